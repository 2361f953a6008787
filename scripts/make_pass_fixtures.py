#!/usr/bin/env python3
"""Reference outputs of the compiler's model-rewriting passes -> Tests/Fixtures/passes/.

Attention-layer removal: timm's model of a committed fixture (Tests/Fixtures/models/NAME.*)
with the forward of the removed blocks replaced by
  lambda:  x = x + x;  x = x + ls2(mlp(norm2(x)))     (lambda_vit's shrunk block)
  skip:    x = x + ls2(mlp(norm2(x)))                 (the residual alone)
run on the fixture's committed input. Writes NAME.remove-B1_B2.MODE.output.npy per case.

Compact FFN (NumPy arithmetic over timm's activations): on the fixture's input, every block's MLP
output y = ls2(mlp(norm2(x))) over all tokens gives its mean mu and covariance C (population);
U = the r = round(fraction * width) eigenvectors of C with the largest eigenvalues
(numpy.linalg.eigh), P = U U^T. The compressed model replaces each block's MLP output by
P (y - mu) + mu, all blocks at once, the statistics taken from the original model. Writes
NAME.compact-FRACTION.output.npy.

Hallucinated heads (NumPy least squares over timm's maps, attention unfused): on the fixture's
input, per block each head's map (flattened over images and entries) is fitted from the other
heads' maps with an intercept (numpy.linalg.lstsq); the round(fraction * heads) heads with the
largest R^2 (R^2 rounded to 1e-9, ties by index) are hallucinated, each refitted from the remaining heads. The
compressed model replaces their maps by max(0, intercept + sum w * map), rows renormalised.
Writes NAME.hallucinate-FRACTION.output.npy and the chosen heads.

index.json lists every case (fixture, settings, output file, input).

Run: .venv/bin/python scripts/make_pass_fixtures.py
"""
from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import FIXTURES, save_npy, set_determinism, write_json  # noqa: E402

from safetensors.torch import load_file  # noqa: E402

HALLUCINATE = [("dinov2_small", 0.5), ("deit_tiny", 0.5)]

COMPACT = [("dinov2_small", 0.125), ("deit_tiny", 0.25)]

CASES = [("dinov2_small", [1], "lambda"), ("dinov2_small", [0], "skip"), ("deit_tiny", [0], "lambda"),
         ("deit_tiny", [0, 1], "skip")]


def model(name: str) -> torch.nn.Module:
    desc = json.loads((FIXTURES / "models" / f"{name}.json").read_text())
    module, cls = desc["timm_class"].rsplit(".", 1)
    m = getattr(importlib.import_module(module), cls)(**desc["timm_kwargs"])
    m.load_state_dict(load_file(str(FIXTURES / "models" / f"{name}.safetensors")))
    return m.eval()


def remove(block: torch.nn.Module, mode: str) -> None:
    def forward(self, x, attn_mask=None):
        if mode == "lambda":
            x = x + x
        return x + self.ls2(self.mlp(self.norm2(x)))
    block.forward = types.MethodType(forward, block)


def main() -> None:
    set_determinism()
    out = FIXTURES / "passes"
    index = []
    for name, blocks, mode in CASES:
        m = model(name)
        for b in blocks:
            remove(m.blocks[b], mode)
        x = torch.from_numpy(np.load(FIXTURES / "models" / f"{name}.input.npy"))
        with torch.no_grad():
            y = m(x)
        file = f"{name}.remove-{'_'.join(map(str, blocks))}.{mode}.output.npy"
        save_npy(out / file, y)
        index.append({"fixture": name, "blocks": blocks, "mode": mode, "output": file,
                      "input": f"models/{name}.input.npy"})
        print(f"{file}: {tuple(y.shape)}")
    compact = []
    for name, fraction in COMPACT:
        m = model(name)
        x = torch.from_numpy(np.load(FIXTURES / "models" / f"{name}.input.npy"))
        outputs = {}
        hooks = [b.ls2.register_forward_hook(lambda mod, i, o, k=k: outputs.__setitem__(k, o.detach().double().numpy()))
                 for k, b in enumerate(m.blocks)]
        with torch.no_grad():
            m(x)
        for h in hooks:
            h.remove()
        projections = {}
        for k, y in outputs.items():
            y = y.reshape(-1, y.shape[-1])
            mu = y.mean(axis=0)
            c = (y - mu).T @ (y - mu) / y.shape[0]
            values, vectors = np.linalg.eigh(c)
            r = max(1, int(round(fraction * y.shape[1])))
            u = vectors[:, np.argsort(-values, kind="stable")[:r]]
            projections[k] = (u @ u.T, mu)

        def replace(mod, i, o, k):
            p, mu = projections[k]
            y = o.double().numpy()
            return torch.from_numpy(((y - mu) @ p.T + mu).astype(np.float32))
        for k, b in enumerate(m.blocks):
            b.ls2.register_forward_hook(lambda mod, i, o, k=k: replace(mod, i, o, k))
        with torch.no_grad():
            y = m(x)
        file = f"{name}.compact-{fraction}.output.npy"
        save_npy(out / file, y)
        compact.append({"fixture": name, "rank_fraction": fraction, "output": file, "input": f"models/{name}.input.npy"})
        print(f"{file}: {tuple(y.shape)}")
    hallucinated = []
    for name, fraction in HALLUCINATE:
        m = model(name)
        maps = {}
        for k, b in enumerate(m.blocks):
            b.attn.fused_attn = False
        hooks = [b.attn.attn_drop.register_forward_hook(lambda mod, i, o, k=k: maps.__setitem__(k, o.detach().double().numpy()))
                 for k, b in enumerate(m.blocks)]
        x = torch.from_numpy(np.load(FIXTURES / "models" / f"{name}.input.npy"))
        with torch.no_grad():
            m(x)
        for h in hooks:
            h.remove()

        def fit(a, h, sources):
            target = a[:, h].reshape(-1)
            design = np.stack([a[:, g].reshape(-1) for g in sources] + [np.ones_like(target)], axis=1)
            coef = np.linalg.lstsq(design, target, rcond=None)[0]
            residual = target - design @ coef
            centred = target - target.mean()
            return coef[:-1], coef[-1], 1 - residual @ residual / (centred @ centred)

        plans, chosen_heads = {}, []
        for k, a in maps.items():
            heads = a.shape[1]
            count = min(heads - 1, int(round(fraction * heads)))
            r2 = [(fit(a, h, [g for g in range(heads) if g != h])[2], h) for h in range(heads)]
            chosen = sorted(h for _, h in sorted(r2, key=lambda t: (-round(t[0] * 1e9), t[1]))[:count])
            sources = [g for g in range(heads) if g not in chosen]
            plans[k] = [(h, sources, *fit(a, h, sources)[:2]) for h in chosen]
            chosen_heads.append(chosen)

        def replace(mod, i, o, k):
            a = o.clone()
            for h, sources, w, b in plans[k]:
                made = b + sum(float(wi) * o[:, g] for wi, g in zip(w, sources))
                made = made.clamp(min=0)
                sums = made.sum(dim=-1, keepdim=True)
                a[:, h] = torch.where(sums > 0, made / sums.clamp(min=1e-30), torch.full_like(made, 1.0 / made.shape[-1]))
            return a
        for k, b in enumerate(m.blocks):
            b.attn.attn_drop.register_forward_hook(lambda mod, i, o, k=k: replace(mod, i, o, k))
        with torch.no_grad():
            y = m(x)
        file = f"{name}.hallucinate-{fraction}.output.npy"
        save_npy(out / file, y)
        hallucinated.append({"fixture": name, "fraction": fraction, "heads": chosen_heads, "output": file,
                             "input": f"models/{name}.input.npy"})
        print(f"{file}: {tuple(y.shape)}, heads {chosen_heads}")
    write_json(out / "index.json", {"attention_removal": index, "compact_ffn": compact, "hallucinated_heads": hallucinated})


if __name__ == "__main__":
    main()
