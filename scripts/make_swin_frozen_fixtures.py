#!/usr/bin/env python3
"""Reference outputs of Swin window attention with EAM frozen maps -> Tests/Fixtures/swin_frozen/.

The small timm Swin of Tests/Fixtures/models/swin_tiny.* (embed 32, depths 2-2, heads 2-4,
window 4: every map is 16x16) with frozen maps drawn from a fixed seed: per (block, head) of
CASES a fraction of the w^2 x w^2 window-relative entries (some whole rows, some whole heads)
gets a code c < 2^bits and the value c * scale (scales k/1024 or 1/4096: exact in float32 and
in JSON). Heads not listed have no frozen map.

Each WindowAttention's forward is replaced (types.MethodType) by the frozen rule of
schemas/FORMAT.md, "Frozen attention maps", in every window of the head alike: scores =
scale q k^T + relative position bias (+ the shift mask); in each row the frozen entries keep
their value and the free ones are softmax(scores over the free entries) * clamp(1 - sum of
frozen values, 0, 1).
The model runs in float64 on the fixture's committed input.

Writes block{B}.codes.npy ([heads, 16, 16], float32: the code, -1 where free), output.npy
(float32 logits) and index.json (bits and scale per frozen head, which heads are frozen whole).

Run: .venv/bin/python scripts/make_swin_frozen_fixtures.py
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

NAME = "swin_tiny"
SEED = 12
# (block, head): (fraction frozen, bits, scale, whole rows). Fraction 1: the head frozen whole.
# Blocks 1 and 3 are shifted: their frozen entries include ones the shift mask hides in the
# boundary windows (the frozen value wins there too).
CASES = {
    (0, 1): (0.3, 2, 20 / 1024, []),
    (1, 0): (0.5, 3, 9 / 1024, [3, 7]),
    (1, 1): (1.0, 2, 20 / 1024, []),
    (2, 0): (0.2, 2, 20 / 1024, []),
    (2, 1): (0.6, 8, 1 / 4096, [0]),
    (2, 3): (0.4, 3, 9 / 1024, []),
    (3, 2): (1.0, 8, 1 / 4096, []),
    (3, 3): (0.9, 2, 20 / 1024, [5, 6, 15]),
}


def model() -> torch.nn.Module:
    desc = json.loads((FIXTURES / "models" / f"{NAME}.json").read_text())
    module, cls = desc["timm_class"].rsplit(".", 1)
    m = getattr(importlib.import_module(module), cls)(**desc["timm_kwargs"])
    m.load_state_dict(load_file(str(FIXTURES / "models" / f"{NAME}.safetensors")))
    return m.eval()


def draw(rng: np.random.Generator, n: int, fraction: float, bits: int, rows: list[int]) -> np.ndarray:
    """Codes of one head's n x n map, -1 where free."""
    frozen = rng.random((n, n)) < fraction if fraction < 1 else np.ones((n, n), bool)
    frozen[rows, :] = True
    if not frozen.any():
        frozen[0, 0] = True
    codes = rng.integers(0, 1 << bits, size=(n, n))
    return np.where(frozen, codes, -1).astype(np.float64)


def frozen_forward(codes: np.ndarray, scales: np.ndarray):
    """WindowAttention.forward with the head's frozen map (codes[h] -1 where free) in every window."""
    def forward(self, x, mask=None):
        b_, n, c = x.shape
        qkv = self.qkv(x).reshape(b_, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1) + self._get_rel_pos_bias()
        if mask is not None:
            windows = mask.shape[0]
            attn = attn.view(-1, windows, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        code = torch.from_numpy(codes)
        is_frozen = code >= 0
        value = torch.where(is_frozen, code.clamp(min=0) * torch.from_numpy(scales)[:, None, None], torch.zeros(()))
        value = value.to(attn.dtype)
        free_mass = (1 - value.sum(-1, keepdim=True)).clamp(0, 1)
        scores = attn.masked_fill(is_frozen, float("-inf"))
        # Rows frozen whole: no free entry, the softmax is not taken.
        any_free = (~is_frozen).any(-1, keepdim=True)
        p = torch.softmax(torch.where(any_free, scores, torch.zeros(())), dim=-1)
        p = torch.where(is_frozen, value, p * free_mass)
        out = (p @ v).transpose(1, 2).reshape(b_, n, -1)
        return self.proj(out)
    return forward


def main() -> None:
    set_determinism()
    out = FIXTURES / "swin_frozen"
    rng = np.random.default_rng(SEED)
    m = model().double()
    blocks = [b for layer in m.layers for b in layer.blocks]
    heads_index = []
    for k, block in enumerate(blocks):
        attn = block.attn
        n = attn.window_area
        codes = np.full((attn.num_heads, n, n), -1.0)
        scales = np.zeros(attn.num_heads)
        for h in range(attn.num_heads):
            if (k, h) not in CASES:
                continue
            fraction, bits, scale, rows = CASES[(k, h)]
            codes[h] = draw(rng, n, fraction, bits, rows)
            scales[h] = scale
            heads_index.append({"block": k, "head": h, "bits": bits, "scale": scale, "tokens": n,
                                "frozen_entries": int((codes[h] >= 0).sum()),
                                "whole_head": bool((codes[h] >= 0).all())})
        save_npy(out / f"block{k}.codes.npy", codes)
        attn.forward = types.MethodType(frozen_forward(codes, scales), attn)
    x = torch.from_numpy(np.load(FIXTURES / "models" / f"{NAME}.input.npy")).double()
    with torch.no_grad():
        y = m(x)
    save_npy(out / "output.npy", y)
    write_json(out / "index.json", {"fixture": NAME, "input": f"models/{NAME}.input.npy", "output": "output.npy",
                                    "image_size": 64, "blocks": len(blocks), "seed": SEED, "frozen": heads_index})
    print(f"{out}: {len(heads_index)} frozen heads, output {tuple(y.shape)}")


if __name__ == "__main__":
    main()
