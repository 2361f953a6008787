#!/usr/bin/env python3
"""int4 rounding explored in PyTorch on the real DINOv2-S/14 (issue 11) -> the figures of
docs/QUANTIZATION.md, "What else was tried for int4".

A model of eamc's int4, not eamc itself: timm's DINOv2-S/14 with every linear weight (and the patch
embedding) replaced by its int4 dequantization: codes in [-7, 7] per output row and group of 32
inputs, binary16 scales chosen by the clipping search of eamc (ratios 1, 0.95, ..., 0.5, least
squared error). Calibration: the 47 images of ../shared/images/calib that eamc's fidelity test
calibrates on; figures: mean (min) cosine to the float model on the other 15.

Variants: round to nearest; GPTQ with the float model's Hessians (natural order, scales from the
group as updated; act order with scales fixed first; natural order with scales fixed first);
sequential GPTQ (each layer's Hessian from the model whose earlier layers are already int4);
AWQ-style per-input-channel scales s = rms(x)^alpha (alpha in 0, 0.1, ..., 1 chosen per layer on
the layer's output error tr(dW H dW^T); s is folded into the weight before rounding and out of it
after, which for qkv and fc1 a LayerNorm could absorb exactly), with round-to-nearest or GPTQ.

Needs torch and timm (`make python-tools`); about 35 minutes on 2 cores (`--awq` only the AWQ
rows, about 15):
    .venv/bin/python scripts/int4_explore.py [--awq]
"""
import copy
import os
import sys
from pathlib import Path

import numpy as np
import torch
import timm
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IMAGES = SHARED / "images/calib"
GROUP = 32
torch.set_num_threads(os.cpu_count() or 1)

model = timm.create_model("vit_small_patch14_dinov2", img_size=224, num_classes=0).eval()
model.load_state_dict(torch.load(SHARED / "models/dinov2_vits14_224.pth", map_location="cpu", weights_only=True))


def load(path):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BICUBIC)
    w, h = im.size
    left, top = (w - 224) // 2, (h - 224) // 2
    x = np.asarray(im.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255
    x = (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    return torch.from_numpy(x.transpose(2, 0, 1).astype(np.float32))


names = sorted((n for n in os.listdir(IMAGES) if n.lower().endswith((".jpg", ".jpeg", ".png"))), key=lambda n: n.encode())
Xc = torch.stack([load(IMAGES / n) for i, n in enumerate(names) if i % 4 != 3])
Xe = torch.stack([load(IMAGES / n) for i, n in enumerate(names) if i % 4 == 3])


def run(m, X):
    with torch.inference_mode():
        return torch.cat([m(X[i:i + 8]) for i in range(0, len(X), 8)])


reference = run(model, Xe)


def fidelity(m):
    c = torch.nn.functional.cosine_similarity(run(m, Xe), reference, dim=-1)
    return c.mean().item(), c.min().item()


def group_scale(w):
    """Per row of w ([rows, g]): the binary16 scale of the clipping search."""
    best_e, best_s = None, None
    top = w.abs().amax(1, keepdim=True)
    for c in [1 - 0.05 * i for i in range(11)]:
        s = (top * c / 7).half().double()
        safe = torch.where(s == 0, torch.ones_like(s), s)
        e = ((w - (w / safe).round().clamp(-7, 7) * s) ** 2).sum(1, keepdim=True)
        if best_e is None:
            best_e, best_s = e, s
        else:
            better = e < best_e
            best_e, best_s = torch.where(better, e, best_e), torch.where(better, s, best_s)
    return best_s


def quantize(w, s):
    safe = torch.where(s == 0, torch.ones_like(s), s)
    return (w / safe).round().clamp(-7, 7) * s


def nearest(W):
    W = W.double()
    return torch.cat([quantize(W[:, g:g + GROUP], group_scale(W[:, g:g + GROUP])) for g in range(0, W.shape[1], GROUP)], 1)


def gptq(W, H, act_order=False, fixed_scales=False):
    W, H = W.clone().double(), H.clone().double()
    K = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += 0.01 * torch.diag(H).mean() * torch.eye(K, dtype=H.dtype)
    S = None
    if fixed_scales:
        S = torch.cat([group_scale(W[:, g:g + GROUP]).expand(-1, min(GROUP, K - g)) for g in range(0, K, GROUP)], 1)
    perm = torch.argsort(torch.diag(H), descending=True) if act_order else torch.arange(K)
    W, H = W[:, perm], H[perm][:, perm]
    S = S[:, perm] if S is not None else None
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    Q = torch.zeros_like(W)
    s = None
    for i in range(K):
        if S is not None:
            s = S[:, i:i + 1]
        elif i % GROUP == 0:
            s = group_scale(W[:, i:i + GROUP])
        q = quantize(W[:, i:i + 1], s)
        Q[:, i:i + 1] = q
        W[:, i + 1:] -= ((W[:, i:i + 1] - q) / U[i, i]) @ U[i:i + 1, i + 1:]
    out = torch.zeros_like(Q)
    out[:, perm] = Q
    return out


def layers(m):
    return [(n, mod) for n, mod in m.named_modules() if isinstance(mod, torch.nn.Linear) or n == "patch_embed.proj"]


def hessians(m, only=None):
    hs, handles = {}, []
    for n, mod in layers(m):
        if only is not None and n != only:
            continue

        def hook(mod, inp, out, n=n):
            x = inp[0].detach()
            if x.dim() == 4:
                x = torch.nn.functional.unfold(x, 14, stride=14).transpose(1, 2)
            x = x.reshape(-1, x.shape[-1]).double()
            hs[n] = hs.get(n, 0) + x.T @ x
        handles.append(mod.register_forward_hook(hook))
    run(m, Xc)
    for h in handles:
        h.remove()
    return hs


def replaced(rounding):
    m = copy.deepcopy(model)
    for n, mod in layers(m):
        W = mod.weight.data
        mod.weight.data = rounding(n, W.reshape(W.shape[0], -1)).float().reshape(W.shape)
    return m


def row(label, m):
    mean, worst = fidelity(m)
    print(f"| {label} | {mean:.5f} | {worst:.5f} |", flush=True)


def output_error(Wq, W, h):
    D = Wq - W.double()
    return torch.trace(D @ h @ D.T).item()


def awq(n, W, h, only_foldable, with_gptq):
    """The scales of the alpha (of 0, 0.1, ..., 1) whose rounding moves the layer's output least."""
    W = W.double()
    if only_foldable and not (n.endswith("attn.qkv") or n.endswith("mlp.fc1")):
        return gptq(W, h) if with_gptq else nearest(W)
    rms = torch.diag(h).clamp_min(1e-12).sqrt()
    best = None
    for alpha in [0.1 * i for i in range(11)]:
        s = rms ** alpha
        s = (s / s.max()).clamp_min(1e-4)
        q = (gptq(W * s, h / s[:, None] / s[None, :]) if with_gptq else nearest(W * s)) / s
        e = output_error(q, W, h)
        if best is None or e < best[0]:
            best = (e, q)
    return best[1]


print("| int4 g32 rounding | cosine mean | cosine worst |\n|---|---:|---:|")
H = hessians(model)
if "--awq" not in sys.argv:
    row("clipped round-to-nearest", replaced(lambda n, W: nearest(W)))
    row("GPTQ, float-model Hessians, patch embedding to nearest",
        replaced(lambda n, W: nearest(W) if n == "patch_embed.proj" else gptq(W, H[n])))
    row("GPTQ, act order, scales fixed first",
        replaced(lambda n, W: nearest(W) if n == "patch_embed.proj" else gptq(W, H[n], act_order=True, fixed_scales=True)))
    row("GPTQ, natural order, scales fixed first",
        replaced(lambda n, W: nearest(W) if n == "patch_embed.proj" else gptq(W, H[n], fixed_scales=True)))
    row("GPTQ, float-model Hessians, patch embedding too (eamc's)", replaced(lambda n, W: gptq(W, H[n])))
    sequential = copy.deepcopy(model)
    for n, mod in layers(sequential):
        h = hessians(sequential, only=n)[n]
        W = mod.weight.data
        mod.weight.data = gptq(W.reshape(W.shape[0], -1), h).float().reshape(W.shape)
    row("sequential GPTQ (each layer's Hessian with the earlier layers int4)", sequential)
row("AWQ-style scales + round-to-nearest, qkv and fc1 (foldable into LayerNorm)",
    replaced(lambda n, W: awq(n, W, H[n], True, False)))
row("AWQ-style scales + GPTQ, qkv and fc1", replaced(lambda n, W: awq(n, W, H[n], True, True)))
row("AWQ-style scales + GPTQ, every layer", replaced(lambda n, W: awq(n, W, H[n], False, True)))
