#!/usr/bin/env python3
"""Writes a ViT checkpoint for another image size: the position embedding's patch grid resized.

eamc takes a ViT's image size from its position embedding and does not resize it, so measuring
calibration at 448 or 518 px needs a checkpoint whose `pos_embed` has a 32x32 or 37x37 grid.
This reads a PyTorch `torch.save` zip state dict without torch (a pickle machine that only
builds tensors), resizes the grid with bicubic interpolation as `torch.nn.functional.interpolate`
does without antialiasing (align_corners=False, a = -0.75, edges clamped), keeps the prefix
(class) token's embedding, and writes float32 safetensors. Numpy and the standard library only.

The shared DINOv2-S/14 checkpoint's grid was itself resized from 37x37 to 16x16, so the
upsampled embedding is not DINOv2's original: the checkpoint is for measuring memory and time.

    python3 scripts/resize_pos_embed.py ../shared/models/dinov2_vits14_224.pth 518 out/dinov2_518.safetensors
"""
import json
import math
import pickle
import sys
import zipfile

import numpy as np

DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
          "BFloat16Storage": None, "LongStorage": np.int64, "IntStorage": np.int32}


def load_state_dict(path):
    z = zipfile.ZipFile(path)
    pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
    prefix = pkl[: -len("data.pkl")]

    class Storage:
        def __init__(self, name):
            self.name = name

    def rebuild(storage, offset, size, stride, *_):
        kind, key = storage
        dtype = DTYPES[kind]
        data = np.frombuffer(z.read(f"{prefix}data/{key}"), dtype=dtype)
        count = 1 + sum((s - 1) * st for s, st in zip(size, stride)) if size else 1
        flat = data[offset: offset + count]
        itemsize = flat.itemsize
        return np.lib.stride_tricks.as_strided(flat, shape=tuple(size), strides=tuple(st * itemsize for st in stride)).copy()

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild
            if (module, name) == ("collections", "OrderedDict"):
                return dict
            if module == "torch" and name in DTYPES:
                return Storage(name)
            raise pickle.UnpicklingError(f"unexpected {module}.{name}")

        def persistent_load(self, pid):
            # ('storage', storage type, key, location, numel)
            return (pid[1].name, pid[2])

    return Unpickler(z.open(pkl)).load()


def cubic_weights(t, a=-0.75):
    def w(x):
        x = abs(x)
        if x <= 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        return 0.0
    return [w(t + 1), w(t), w(1 - t), w(2 - t)]


def resize_matrix(n_in, n_out):
    """Rows: output positions; columns: input positions (torch bicubic, align_corners=False)."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    scale = n_in / n_out
    for i in range(n_out):
        src = (i + 0.5) * scale - 0.5
        x0 = math.floor(src)
        for k, weight in zip(range(x0 - 1, x0 + 3), cubic_weights(src - x0)):
            m[i, min(max(k, 0), n_in - 1)] += weight
    return m


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sd = load_state_dict(source)
    patch = sd["patch_embed.proj.weight"].shape[2]
    assert size % patch == 0, f"{size} is not a multiple of the patch size {patch}"
    pos = sd["pos_embed"].astype(np.float64)  # [1, prefix + g*g, D]
    prefix = 1 if "cls_token" in sd else 0
    g = int(round(math.sqrt(pos.shape[1] - prefix)))
    assert g * g + prefix == pos.shape[1], "not a square grid plus a class token"
    n = size // patch
    grid = pos[0, prefix:].reshape(g, g, -1)
    r = resize_matrix(g, n)
    resized = np.einsum("ij,jkd,lk->ild", r, grid, r).reshape(n * n, -1)
    sd["pos_embed"] = np.concatenate([pos[0, :prefix], resized])[None].astype(np.float32)

    header, blobs, offset = {}, [], 0
    for name in sorted(sd):
        a = np.ascontiguousarray(sd[name], dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
    print(f"wrote {out}: pos_embed {g}x{g} -> {n}x{n} ({n * n + prefix} tokens)")


if __name__ == "__main__":
    main()
