#!/usr/bin/env python3
"""Selection criteria for EAM explored in PyTorch on the real DINOv2-S/14 (issue 17) -> docs/FIDELITY_EXPLORE.md.

A model of eamc's EAM, not eamc itself: timm's forward with frozen entries (free entries share the
mass left, as the runtime does), exact per-entry medians and the same 32 half-octave bins merged
below 1/128, one least-squares scale per head, 2-bit codes, the global budget. Calibration: the 47
images of ../shared/images/calib that eamc's fidelity test calibrates on; figures: mean (min)
cosine to the float model on the other 15. It is how eamc's default (weighted entropy) was
chosen; the figures of eamc itself are in docs/FIDELITY.md (`make fidelity`).

Needs torch and timm (`make python-tools`), about 10 minutes on 2 cores and 3 GB of memory:
    make fidelity-explore   (or .venv/bin/python scripts/fidelity_explore.py)
"""
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import timm
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IMAGES = SHARED / "images/calib"
L, H, T, D = 12, 6, 257, 64
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


def forward(x, frozen=None, record=None):
    """frozen: {(block, head): (mask, values)}; record: filled with maps A and per-key contributions U."""
    x = model.norm_pre(model._pos_embed(model.patch_embed(x)))
    for l, blk in enumerate(model.blocks):
        a, y = blk.attn, blk.norm1(x)
        B = y.shape[0]
        q, k, v = a.qkv(y).reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
        s = (q * a.scale) @ k.transpose(-2, -1)
        p = s.softmax(-1)
        for h in range(H):
            if frozen and (l, h) in frozen:
                mask, vals = frozen[(l, h)]
                free = s[:, h].masked_fill(mask, -math.inf).softmax(-1).nan_to_num(0.0)
                p[:, h] = free * (1 - (vals * mask).sum(-1)).clamp(0, 1)[:, None] + vals * mask
        if record is not None:
            W = a.proj.weight.view(384, H, D)
            record.setdefault("A", []).append(p.numpy().copy())
            record.setdefault("U", []).append((torch.einsum("bhtd,ohd->bhto", v, W) * blk.ls1.gamma).numpy())
        x = x + blk.ls1(a.proj((p @ v).transpose(1, 2).reshape(B, T, 384)))
        x = x + blk.ls2(blk.mlp(blk.norm2(x)))
    return model.forward_head(model.norm(x))


def run(X, frozen=None):
    with torch.inference_mode():
        return torch.cat([forward(X[i:i + 8], frozen) for i in range(0, len(X), 8)])


Yc, Ye = run(Xc), run(Xe)

# Per-entry statistics on the calibration images.
N = len(Xc)
A = np.zeros((L, N, H, T, T), np.float32)
Sw, Saw, Sa2w = (np.zeros((L, H, T, T)) for _ in range(3))
with torch.inference_mode():
    for i in range(0, N, 8):
        rec = {}
        forward(Xc[i:i + 8], record=rec)
        for l in range(L):
            a, U = rec["A"][l], rec["U"][l]
            A[l, i:i + len(a)] = a
            Ub = np.einsum("bhij,bhjo->bhio", a, U)
            w = np.maximum((U * U).sum(-1)[:, :, None, :] + (Ub * Ub).sum(-1)[:, :, :, None]
                           - 2 * np.einsum("bhio,bhjo->bhij", Ub, U), 0)
            Sw[l] += w.sum(0); Saw[l] += (a * w).sum(0); Sa2w[l] += (a * a * w).sum(0)
Sw, Saw, Sa2w = Sw / N, Saw / N, Sa2w / N
mean, std, med = A.mean(1), A.std(1), np.median(A, 1)
upper = [np.array([(222 + i + 1) << 22], np.int32).view(np.float32)[0] for i in range(31)] + [1.0]
merged = sum(1 for u in upper if u <= 1 / 128)
ent = np.zeros((L, H, T, T))
for l in range(L):
    b = np.maximum(np.clip((A[l].view(np.int32) >> 22) - 222, 0, 31) - (merged - 1), 0)
    p = np.stack([(b == k).sum(0) for k in range(32)]) / N
    ent[l] = -(np.where(p > 0, p * np.log2(np.maximum(p, 1e-30)), 0)).sum(0)
fit = np.where(Sw > 0, Saw / np.maximum(Sw, 1e-30), med)  # argmin_c E[(a - c)^2 w]


def best_scale(v, levels):
    top = v.max() if v.size else 0
    if top <= 0:
        return 0.0
    err = lambda s: float(((v - np.clip(np.round(v / s), 0, levels) * s) ** 2).sum())
    best = top / levels
    for j in range(1, 16):
        for step in [0.75, 0.875, 1, 1.125, 1.25]:
            if err(top / levels / (1 << j) * step) < err(best):
                best = top / levels / (1 << j) * step
    return best


def freeze(mask, values, bits=2):
    frozen = {}
    for l in range(L):
        for h in range(H):
            m = mask[l, h]
            if m.any():
                v = values[l, h][m]
                s = best_scale(v, (1 << bits) - 1)
                q = np.zeros((T, T), np.float32)
                q[m] = np.clip(np.round(v / s), 0, (1 << bits) - 1) * s if s > 0 else 0
                frozen[(l, h)] = (torch.from_numpy(m), torch.from_numpy(q))
    return frozen


def lowest(score, fraction):
    flat = score.reshape(-1)
    mask = np.zeros(flat.size, bool)
    mask[np.argsort(flat, kind="stable")[:int(round(flat.size * fraction))]] = True
    return mask.reshape(score.shape)


def ranked(primary, secondary):
    order = np.lexsort((secondary.reshape(-1), primary.reshape(-1)))
    r = np.empty(order.size)
    r[order] = np.arange(order.size)
    return r.reshape(primary.shape)


def cosine(frozen, X, Y):
    c = torch.nn.functional.cosine_similarity(run(X, frozen), Y, dim=-1)
    return float(c.mean()), float(c.min())


# Reach of each block's class-token row and patch rows: output error (1 - cosine, 16 calibration
# images) with 30% of the group frozen (lowest predicted cost first) over the predicted cost.
cost = (std ** 2 + (mean - med) ** 2) * Sw
reach = np.zeros((L, 2))
for l in range(L):
    for g, rows in [(0, slice(0, 1)), (1, slice(1, T))]:
        sub = np.full(cost.shape, np.inf)
        sub[l, :, rows, :] = cost[l, :, rows, :]
        for fraction in [0.3, 1.0]:
            k = int(np.isfinite(sub).sum() * fraction)
            mask = lowest(np.where(np.isfinite(sub), sub, 1e300), k / sub.size)
            error = 1 - cosine(freeze(mask, med), Xc[:16], Yc[:16])[0]
            if error > 1e-9:
                break
        reach[l, g] = error / cost[mask].sum() if error > 1e-9 else 0
G = np.zeros((L, 1, T, 1))
G[:, 0, 0, 0], G[:, 0, 1:, 0] = reach[:, 0], reach[:, 1][:, None]
S = Sw * G
local = Sa2w - 2 * med * Saw + med ** 2 * Sw

criteria = [
    ("entropy (the paper's; std breaks ties)", ranked(ent, std), med),
    ("std (the control)", ranked(std, ent), med),
    ("E[(a − c)²] (squared error about the frozen value)", std ** 2 + (mean - med) ** 2, med),
    ("E[(a − c)²·w], w = ‖γ·W_o,h(v_j − ō_i)‖² (block-local output change)", local, med),
    ("the same, frozen value fitted: c = E[a·w]/E[w]", Sa2w - 2 * fit * Saw + fit ** 2 * Sw, fit),
    ("E[(a − c)²]·w × reach (measured per block and row group)", cost * G, med),
    ("entropy × (w·reach)^½", ranked(ent * np.sqrt(S), std), med),
    ("std × (w·reach)^½", ranked(std * np.sqrt(S), ent), med),
    ("**entropy × (w·reach)^¼, std × (w·reach)^½ breaking ties** (eamc's weighted entropy)",
     ranked(ent * S ** 0.25, std * np.sqrt(S)), med),
    ("the same, frozen value fitted: c = E[a·w]/E[w]", ranked(ent * S ** 0.25, std * np.sqrt(S)), fit),
]
text = (__doc__.split("\n\n")[1].replace("\n", " ") + "\n\nReach measured (class-token row, patch rows per block): "
        + ", ".join(f"{a:.2g}/{b:.2g}" for a, b in reach) + ".\n\n"
        "| criterion | 20% | 30% | 40% | 50% |\n|---|---:|---:|---:|---:|\n")
for name, score, values in criteria:
    cells = []
    for fraction in [0.2, 0.3, 0.4, 0.5]:
        m, lo = cosine(freeze(lowest(score, fraction), values), Xe, Ye)
        cells.append(f"{m:.5f} ({lo:.4f})")
    text += f"| {name} | " + " | ".join(cells) + " |\n"
    print(name, cells, flush=True)
(ROOT / "docs" / "FIDELITY_EXPLORE.md").write_text("# Selection criteria explored (PyTorch model of EAM)\n\n" + text)
print(text)
