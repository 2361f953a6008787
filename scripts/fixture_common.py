"""Shared helpers for the eamc reference-fixture scripts (deterministic, CPU only)."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures"
SHARED = (ROOT / ".." / "shared").resolve()
if not SHARED.exists():
    SHARED = Path("/work/shared")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def set_determinism(seed: int = 0, threads: int = 1) -> None:
    """Single-threaded torch so that every reduction order is fixed from run to run."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def save_npy(path: Path, arr) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(arr, torch.Tensor):
        arr = arr.detach().cpu().numpy()
    np.save(path, np.ascontiguousarray(arr, dtype=np.float32))


def stats(arr) -> dict:
    a = np.asarray(arr, dtype=np.float64)
    return {"abs_max": float(np.abs(a).max()), "mean": float(a.mean()), "std": float(a.std())}


def eval_transform():
    """timm's eval transform for a 224 model with crop_pct 0.875: Resize(256, bicubic) on the shorter side,
    CenterCrop(224), ToTensor, Normalize(ImageNet mean/std)."""
    import timm.data
    return timm.data.create_transform(
        input_size=(3, 224, 224), interpolation="bicubic", crop_pct=224 / 256,
        mean=IMAGENET_MEAN, std=IMAGENET_STD, is_training=False)


def load_images(paths) -> torch.Tensor:
    from PIL import Image
    tf = eval_transform()
    xs = [tf(Image.open(p).convert("RGB")) for p in paths]
    return torch.stack(xs, 0).contiguous()
