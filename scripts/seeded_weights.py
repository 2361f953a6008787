#!/usr/bin/env python3
"""Deterministic "seeded" weights for full-size timm models, reproducible bit-exactly in Swift.

The rule is specified in Tests/Fixtures/seeded/SEEDED_WEIGHTS.md (ported to Swift in
Tests/EAMCompilerTests/SeededWeights.swift). This script
  * implements the rule twice (vectorised numpy, and a sequential pure-Python splitmix64 on
    prefixes / sampled indices) and asserts they agree bit for bit,
  * writes Tests/Fixtures/seeded/input_2x3x224x224.npy (2 real images, timm eval transform),
  * for each model writes NAME.keys.json, NAME.weights-check.json and NAME.output.npy (timm, eval).

Run: /work/main/.venv/bin/python scripts/seeded_weights.py
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import FIXTURES, SHARED, load_images, save_npy, set_determinism, stats, write_json  # noqa: E402

OUT = FIXTURES / "seeded"
SEED = 1
MODELS = [
    "deit_tiny_patch16_224",
    "deit_tiny_distilled_patch16_224",
    "deit_small_patch16_224",
    "swin_tiny_patch4_window7_224",
]
INPUT_IMAGES = ["scikit-image-chelsea.jpg", "scikit-image-coffee.jpg"]

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a64(s: str) -> int:
    h = FNV_OFFSET
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * FNV_PRIME) & M64
    return h


def center_scale(key: str, shape) -> tuple[np.float32, np.float32, str]:
    """(center, scale) as float32, and the name of the rule that matched (first match wins)."""
    last = key.rsplit(".", 1)[-1]
    ndim = len(shape)
    if last == "relative_position_bias_table":
        c, s, r = 0.0, 0.1, "relative_position_bias_table"
    elif last in ("pos_embed", "cls_token", "dist_token", "reg_token"):
        c, s, r = 0.0, 0.1, "token/pos_embed"
    elif last in ("gamma", "gamma_1", "gamma_2"):
        c, s, r = 0.25, 0.2, "layer-scale gamma"
    elif last == "bias":
        c, s, r = 0.0, 0.02, "bias"
    elif last == "weight" and ndim == 1:
        c, s, r = 1.0, 0.1, "1-D weight (norm)"
    elif ndim >= 2:
        fan_in = int(np.prod(shape[1:]))
        c, s, r = 0.0, math.sqrt(3.0 / fan_in), "matrix: sqrt(3/fan_in)"
    else:
        c, s, r = 0.0, 0.1, "other"
    return np.float32(c), np.float32(s), r


# ---- implementation 1: vectorised numpy -------------------------------------------------------
def seeded_value_numpy(key: str, shape, seed: int = SEED) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    s0 = np.uint64((seed ^ fnv1a64(key)) & M64)
    with np.errstate(over="ignore"):
        idx = np.arange(1, n + 1, dtype=np.uint64)
        z = s0 + idx * np.uint64(GOLDEN)                       # state after i-th increment
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    m = (z >> np.uint64(40)).astype(np.float32)                # < 2^24: exact
    t = m * np.float32(2.0 ** -23) - np.float32(1.0)           # 2u - 1, exact in float32
    c, s, _ = center_scale(key, shape)
    p = (s * t).astype(np.float32)                             # one float32 rounding
    v = (c + p).astype(np.float32)                             # one float32 rounding (no FMA)
    return v.reshape(shape)


# ---- implementation 2: sequential pure Python (scalars, struct for float32 rounding) -----------
def _f32(x: float) -> float:
    return float(np.float32(x))


def splitmix64_stream(state: int):
    while True:
        state = (state + GOLDEN) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def seeded_value_scalar(key: str, shape, count: int, seed: int = SEED) -> list[float]:
    c, s, _ = center_scale(key, shape)
    c, s = float(c), float(s)
    out = []
    gen = splitmix64_stream((seed ^ fnv1a64(key)) & M64)
    for _ in range(count):
        u = (next(gen) >> 40) / 16777216.0                     # exact
        t = 2.0 * u - 1.0                                      # exact
        out.append(_f32(c + _f32(s * t)))                      # float32 rounding after * and after +
    return out


def seeded_state_dict(model: torch.nn.Module, seed: int = SEED):
    """Generated tensors for every state_dict key (timm's non-persistent buffers such as Swin's
    relative_position_index / attn_mask are not in the state dict and stay as timm computed them)."""
    sd = model.state_dict()
    gen = {}
    for k in sorted(sd):
        v = sd[k]
        if not v.is_floating_point():
            raise ValueError(f"non-float state-dict entry {k}: not covered by the rule")
        gen[k] = seeded_value_numpy(k, tuple(v.shape), seed)
    return gen


def check_entry(key: str, arr: np.ndarray, rule: str, c, s) -> dict:
    flat = arr.reshape(-1)
    bits = flat.view(np.uint32).astype(np.uint64)
    return {
        "key": key,
        "shape": list(arr.shape),
        "rule": rule,
        "center": float(c),
        "scale": float(s),
        "scale_f32_bits": f"{np.float32(s).view(np.uint32):08x}",
        "fnv1a64_key": f"{fnv1a64(key):016x}",
        "first4": [float(x) for x in flat[:4]],
        "first4_bits": [f"{b:08x}" for b in flat[:4].view(np.uint32)],
        "last_bits": f"{flat[-1:].view(np.uint32)[0]:08x}",
        "sum_f64": math.fsum(float(x) for x in flat) if flat.size <= 4096 else float(np.sum(flat, dtype=np.float64)),
        "bits_sum_mod2_64": f"{int(bits.sum(dtype=np.uint64)):016x}",
    }


def cross_check(key: str, arr: np.ndarray) -> None:
    flat = arr.reshape(-1)
    n = min(flat.size, 2048)
    ref = np.array(seeded_value_scalar(key, arr.shape, n), dtype=np.float32)
    if not np.array_equal(ref.view(np.uint32), flat[:n].view(np.uint32)):
        raise AssertionError(f"numpy and scalar generators disagree on {key}")


def main():
    import timm
    set_determinism(0, threads=1)
    OUT.mkdir(parents=True, exist_ok=True)

    # Self-test vectors (also in SEEDED_WEIGHTS.md / the Swift port).
    assert fnv1a64("") == FNV_OFFSET
    assert fnv1a64("a") == 0xAF63DC4C8601EC8C
    g = splitmix64_stream(0)
    assert next(g) == 0xE220A8397B1DCDAF  # published splitmix64 first output for seed 0

    calib = SHARED / "images" / "calib"
    x = load_images([calib / f for f in INPUT_IMAGES])
    save_npy(OUT / "input_2x3x224x224.npy", x)
    write_json(OUT / "input_2x3x224x224.json", {
        "files": INPUT_IMAGES, "source_dir": "../shared/images/calib",
        "transform": "RGB; Resize(256, bicubic, shorter side; torchvision/PIL antialias); CenterCrop(224); "
                     "ToTensor; Normalize(mean=(0.485,0.456,0.406), std=(0.229,0.224,0.225))",
        "shape": list(x.shape), "stats": stats(x.numpy())})

    test_vectors = {}
    for name in MODELS:
        model = timm.create_model(name, pretrained=False).eval()
        gen = seeded_state_dict(model)
        computed = sorted(set(k for k, _ in model.named_buffers()) - set(model.state_dict()))
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in gen.items()}, strict=True)
        checks = []
        for k in sorted(gen):
            cross_check(k, gen[k])
            c, s, rule = center_scale(k, gen[k].shape)
            checks.append(check_entry(k, gen[k], rule, c, s))
        with torch.inference_mode():
            y = model(x)
        assert torch.isfinite(y).all()
        save_npy(OUT / f"{name}.output.npy", y)
        write_json(OUT / f"{name}.keys.json", {
            "model": name, "timm_create_model": {"model_name": name, "pretrained": False},
            "seed": SEED,
            "keys": {k: list(gen[k].shape) for k in sorted(gen)},
            "not_generated_buffers_computed_by_timm": computed,
            "num_params": int(sum(v.size for v in gen.values())),
        })
        write_json(OUT / f"{name}.weights-check.json", {"model": name, "seed": SEED, "tensors": checks})
        write_json(OUT / f"{name}.json", {
            "model": name, "seed": SEED, "input": "input_2x3x224x224.npy",
            "output": f"{name}.output.npy", "output_shape": list(y.shape),
            "output_kind": "logits (timm model(x), eval mode" +
                           ("; (head(cls) + head_dist(dist)) / 2)" if "distilled" in name else ")"),
            "output_stats": stats(y.numpy()),
            "argmax": [int(i) for i in y.argmax(-1)],
            "versions": {"torch": torch.__version__.split("+")[0], "timm": timm.__version__},
        })
        print(f"{name}: {len(gen)} tensors, out {tuple(y.shape)} absmax {float(y.abs().max()):.3f} "
              f"std {float(y.std()):.3f}; computed buffers: {len(computed)}")
        # a few values for the Swift port's doc-tests
        for k in ("cls_token", "blocks.0.attn.qkv.weight", "norm.weight", "head.bias",
                  "layers.0.blocks.1.attn.relative_position_bias_table"):
            if k in gen and k not in test_vectors:
                flat = gen[k].reshape(-1)
                test_vectors[k] = {"shape": list(gen[k].shape), "first4_bits": [f"{b:08x}" for b in flat[:4].view(np.uint32)],
                                   "first4": [float(v) for v in flat[:4]]}
    write_json(OUT / "test-vectors.json", {"seed": SEED, "fnv1a64": {"": f"{FNV_OFFSET:016x}", "a": "af63dc4c8601ec8c",
               "cls_token": f"{fnv1a64('cls_token'):016x}"},
               "splitmix64_seed0_first3": [f"{v:016x}" for v in [next(s) for s in [splitmix64_stream(0)] for _ in range(3)]],
               "tensors": test_vectors})


if __name__ == "__main__":
    main()
