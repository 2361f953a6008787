#!/usr/bin/env python3
"""Reference outputs of the real DINOv2 ViT-S/14 (../shared/models/dinov2_vits14_224.pth) -> Tests/Fixtures/dinov2/.

Input: Tests/Fixtures/seeded/input_2x3x224x224.npy (written by scripts/seeded_weights.py; run that first).
Writes:
  output.npy            [2, 384]      timm model(x): final LayerNorm applied to the class token
  cls_prenorm.npy       [2, 384]      class token after the last block, before the final norm
  blocks_cls_token.npy  [12, 2, 384]  class token after each block (pre-norm), for locating drift
  patch_mean.npy        [2, 384]      mean over the 256 patch tokens of forward_features (normed)
  reference.json        description and magnitudes

Run: /work/main/.venv/bin/python scripts/make_dinov2_fixtures.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import FIXTURES, SHARED, save_npy, set_determinism, stats, write_json  # noqa: E402

OUT = FIXTURES / "dinov2"
WEIGHTS = SHARED / "models" / "dinov2_vits14_224.pth"


def load_model():
    import timm
    m = timm.create_model("vit_small_patch14_dinov2", img_size=224, num_classes=0).eval()
    m.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return m


def main():
    import timm
    set_determinism(0, threads=1)
    x = torch.from_numpy(np.load(FIXTURES / "seeded" / "input_2x3x224x224.npy"))
    m = load_model()
    per_block = []
    hooks = [b.register_forward_hook(lambda mod, inp, out: per_block.append(out[:, 0].clone()))
             for b in m.blocks]
    with torch.inference_mode():
        feats = m.forward_features(x)          # [2, 257, 384], normed
        y = m.forward_head(feats)              # [2, 384]
        y2 = m(x)
    for h in hooks:
        h.remove()
    blocks = torch.stack(per_block[:len(m.blocks)], 0)
    assert torch.equal(y, y2)
    assert torch.allclose(m.norm(blocks[-1]), y, atol=0, rtol=0)
    OUT.mkdir(parents=True, exist_ok=True)
    save_npy(OUT / "output.npy", y)
    save_npy(OUT / "cls_prenorm.npy", blocks[-1])
    save_npy(OUT / "blocks_cls_token.npy", blocks)
    save_npy(OUT / "patch_mean.npy", feats[:, 1:].mean(1))
    write_json(OUT / "reference.json", {
        "weights": "../shared/models/dinov2_vits14_224.pth",
        "timm": {"create_model": "vit_small_patch14_dinov2", "img_size": 224, "num_classes": 0,
                 "version": timm.__version__},
        "input": "../seeded/input_2x3x224x224.npy",
        "tokens": "1 class token + 16x16 patches = 257, dim 384, 12 blocks, 6 heads, layer scale, LayerNorm eps 1e-6",
        "outputs": {
            "output.npy": {"shape": list(y.shape), "what": "model(x) = norm(forward_features)[:, 0]",
                           "stats": stats(y.numpy())},
            "cls_prenorm.npy": {"shape": list(blocks[-1].shape), "what": "class token after blocks[11], before norm",
                                "stats": stats(blocks[-1].numpy())},
            "blocks_cls_token.npy": {"shape": list(blocks.shape), "what": "class token after each block i (pre-norm)",
                                     "abs_max_per_block": [float(b.abs().max()) for b in blocks]},
            "patch_mean.npy": {"shape": [2, 384], "what": "mean of the normed patch tokens (forward_features[:, 1:])",
                               "stats": stats(feats[:, 1:].mean(1).numpy())},
        },
        "computed": "torch single-threaded, float32, eval mode",
    })
    print("dinov2:", tuple(y.shape), "absmax", float(y.abs().max()), "prenorm absmax", float(blocks[-1].abs().max()))


if __name__ == "__main__":
    main()
