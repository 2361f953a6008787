#!/usr/bin/env python3
"""Fuzz/corpus/<target>/: the committed seed corpora of the fuzz harnesses (docs/FUZZING.md).

Small valid files of each kind, taken from the committed test fixtures or made with eamc itself:

  pickle          plain pickles (protocols 2 and 4) and the object pickles of torch.save zips
  zip             torch.save zips (little/big endian, ZIP64, views, deflated) and .npz archives
  torch-legacy    legacy (pre-1.6) torch.save files
  safetensors     safetensors files (four dtypes, two refused ones)
  npy             .npy arrays (versions 1-3, both byte orders, Fortran order, a scalar)
  jpeg, png       the decoding fixtures (every colour mode, progressive, truncated, bad CRC)
  eam-header,     a tiny ViT (width 16, 2 blocks, 2 heads, 8x8 images) compiled by eamc: as float,
  eam-model       as f16, and with EAM frozen maps (calibrated on two bundled images)
  eam-manifest    the manifests of those artifacts
  eamstats        `eamc calibrate` statistics of the tiny ViT on two bundled images
  eam-run-npy     eam-run's inputs and outputs: the runtime's committed outputs, the .npy seeds
                  above, and NCHW batches in every type, byte order, memory order and version
  eam-memory      the tiny ViT artifacts of eam-model
  eam-manifest-structured  edit lists for the structured harness: each seed artifact unchanged,
                  then a few single edits (the harness reads the artifacts from eam-model)

Only the standard library is used. The tiny ViT's weights are a fixed pseudo-random sequence,
so the output is the same on every run (given the same eamc and libzstd).

Run: python3 scripts/make_fuzz_seeds.py [path/to/eamc]   (default .build/release/eamc)
"""
from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Fuzz" / "corpus"
INGEST = ROOT / "Tests" / "EAMIngestTests" / "Fixtures"
DECODE = ROOT / "Tests" / "EAMImageTests" / "Fixtures" / "decode"
CALIB = ROOT / "examples" / "images" / "calib"

SEEDS = {
    "pickle": ["evil_eval_p2.pkl", "evil_os_system_p4.pkl", "numpy_f16_p2.pkl", "numpy_f32_p4.pkl",
               "numpy_f64_p2.pkl"],
    "zip": ["torch_f32_bare.pth", "torch_f32_bigendian.pth", "torch_f16_zip64.pth", "views.pth",
            "deflated_torch.pth", "torch_f32_renamed_folder.pth", "np_f64.npz", "np_f64_zip64.npz",
            "compressed.npz"],
    "torch-legacy": ["legacy_f32_bare.pt", "legacy_f16_extras_proto4.pt", "legacy_bf16_timm_train.pt",
                     "legacy_f64_ddp.pt", "views_legacy.pt"],
    "safetensors": ["st_f32.safetensors", "st_f16.safetensors", "st_bf16.safetensors", "st_f64.safetensors",
                    "overlap.safetensors", "shape_mismatch.safetensors"],
    "npy": ["v1_f4.npy", "v2_f4.npy", "v3_f4.npy", "fortran_f4.npy", "big_f8.npy", "cube_fortran_f8.npy",
            "f2.npy", "scalar_f8.npy"],
}
# Object pickles of torch.save zips (data.pkl): tensors as persistent ids, views, training extras.
ZIP_PICKLES = ["torch_f32_extras_proto4.pth", "torch_f32_timm_train.pth", "views.pth", "whole_module.pth",
               "torch_f16_bare.pth"]
JPEG = ["grey.jpg", "cmyk.jpg", "progressive.jpg", "q80-422.jpg", "q90-420.jpg", "q95-444.jpg",
        "bad-truncated.jpg"]
PNG = ["grey1.png", "grey2.png", "grey4.png", "grey8.png", "grey16.png", "grey16-trns.png", "la8.png",
       "la16.png", "p2.png", "p4-short.png", "p8.png", "p8-trns.png", "bad-crc.png", "bad-huge.png"]
CALIB_IMAGES = ["mate-backgrounds-Aqua.jpg", "opencv-doc-baboon.jpg"]
RUNTIME = ROOT / "Tests" / "Fixtures" / "runtime"
# Committed runtime outputs of three shapes ([2, 10], [2, 32] and the real DINOv2's).
RUNTIME_NPY = ["vit_tiny.out.scalar.npy", "dinov2_small.out.scalar.npy", "real_dinov2.out.scalar.npy"]


def npy(values: list[float], shape: list[int], descr: str, fortran: bool, version: int) -> bytes:
    """A .npy file as NumPy writes it (header padded to 64 bytes), values given in C order."""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': ({dims}), }}"
    prefix = 10 if version == 1 else 12
    header += " " * (-(prefix + len(header) + 1) % 64) + "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    order = list(range(len(values)))
    if fortran:
        strides = [math.prod(shape[k + 1:]) for k in range(len(shape))]
        order = []
        for f in range(len(values)):
            rest, r = f, 0
            for k, d in enumerate(shape):
                r += (rest % d) * strides[k]
                rest //= d
            order.append(r)
    code = {"f4": "f", "f8": "d"}[descr[1:]]
    data = b"".join(struct.pack(descr[0].replace("|", "<").replace("=", "<") + code, values[i]) for i in order)
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + data


def eam_run_npy_seeds() -> None:
    folder = CORPUS / "eam-run-npy"
    for name in RUNTIME_NPY:
        shutil.copyfile(RUNTIME / name, folder / f"seed-{name}")
    for name in SEEDS["npy"]:
        shutil.copyfile(INGEST / name, folder / f"seed-{name}")
    # A [2, 3, 4, 4] NCHW batch (as eam-run takes it) in every encoding it reads.
    shape = [2, 3, 4, 4]
    values = [(i * 37 % 101) / 50 - 1 for i in range(math.prod(shape))]
    for descr, fortran, version in [("<f4", False, 1), (">f4", False, 2), ("<f8", True, 3), (">f8", True, 1),
                                    ("=f4", True, 2), ("|f8", False, 3)]:
        name = f"seed-nchw-{descr[1:]}-{'big' if descr[0] == '>' else 'little'}-{'fortran' if fortran else 'c'}-v{version}.npy"
        (folder / name).write_bytes(npy(values, shape, descr, fortran, version))


def structured_seeds() -> None:
    """Edit lists: byte 0 picks the seed artifact (sorted eam-model seeds), then operations
    (see Fuzz/EAMManifestStructured/Harness.swift)."""
    folder = CORPUS / "eam-manifest-structured"
    artifacts = sorted(p.name for p in (CORPUS / "eam-model").glob("seed-*.eam"))
    for i, name in enumerate(artifacts):
        stem = name[len("seed-"):-len(".eam")]
        (folder / f"seed-{stem}").write_bytes(bytes([i]))
        # Architecture: embed_dim to 2^31; block 0: heads + 1; first frozen map: bits 0;
        # first section: shape dimension doubled.
        (folder / f"seed-{stem}-edits").write_bytes(bytes([i, 0, 3, 31, 2, 0, 1, 34, 4, 2, 0, 7, 0, 3, 0, 36]))


def tiny_vit() -> bytes:
    """A timm-named ViT as safetensors (f32): width 16, 2 blocks, MLP 32, patch 4, 8x8 images
    (4 patches + a class token), 10 classes."""
    dim, hidden, patch, classes, depth = 16, 32, 4, 10, 2
    shapes = {"patch_embed.proj.weight": [dim, 3, patch, patch], "patch_embed.proj.bias": [dim],
              "cls_token": [1, 1, dim], "pos_embed": [1, 5, dim]}
    for b in range(depth):
        p = f"blocks.{b}."
        shapes.update({p + "norm1.weight": [dim], p + "norm1.bias": [dim],
                       p + "attn.qkv.weight": [3 * dim, dim], p + "attn.qkv.bias": [3 * dim],
                       p + "attn.proj.weight": [dim, dim], p + "attn.proj.bias": [dim],
                       p + "norm2.weight": [dim], p + "norm2.bias": [dim],
                       p + "mlp.fc1.weight": [hidden, dim], p + "mlp.fc1.bias": [hidden],
                       p + "mlp.fc2.weight": [dim, hidden], p + "mlp.fc2.bias": [dim]})
    shapes.update({"norm.weight": [dim], "norm.bias": [dim], "head.weight": [classes, dim], "head.bias": [classes]})
    state = 0x9E3779B97F4A7C15

    def value(name: str) -> float:
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        u = ((state >> 11) / float(1 << 53)) * 2 - 1
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            return 1 + 0.1 * u
        return 0.3 * u

    header, data = {}, bytearray()
    for name in sorted(shapes):
        count = math.prod(shapes[name])
        raw = struct.pack(f"<{count}f", *(value(name) for _ in range(count)))
        header[name] = {"dtype": "F32", "shape": shapes[name], "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(data)


def run(*args: str) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def manifest(eam: bytes) -> bytes:
    offset, length = struct.unpack_from("<QQ", eam, 32)
    return eam[offset:offset + length]


def main() -> None:
    eamc = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".build" / "release" / "eamc")
    targets = list(SEEDS) + ["jpeg", "png", "eam-header", "eam-model", "eam-manifest", "eamstats", "eam-run-npy",
                             "eam-memory", "eam-manifest-structured"]
    for target in targets:
        folder = CORPUS / target
        # Regression inputs (found by fuzzing) stay; the seeds are made anew.
        for f in folder.glob("seed-*"):
            f.unlink()
        folder.mkdir(parents=True, exist_ok=True)
    for target, names in SEEDS.items():
        for name in names:
            shutil.copyfile(INGEST / name, CORPUS / target / f"seed-{name}")
    for name in ZIP_PICKLES:
        with zipfile.ZipFile(INGEST / name) as z:
            member = min((n for n in z.namelist() if n.endswith("data.pkl")), key=len)
            (CORPUS / "pickle" / f"seed-{Path(name).stem}.data.pkl").write_bytes(z.read(member))
    for name in JPEG:
        shutil.copyfile(DECODE / name, CORPUS / "jpeg" / f"seed-{name}")
    for name in PNG:
        shutil.copyfile(DECODE / name, CORPUS / "png" / f"seed-{name}")

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        model = t / "tiny_vit.safetensors"
        model.write_bytes(tiny_vit())
        images = t / "calib"
        images.mkdir()
        for name in CALIB_IMAGES:
            shutil.copyfile(CALIB / name, images / name)
        base = [eamc, "compile", str(model), "--heads", "2"]
        run(*base, "-o", str(t / "tiny_vit.eam"))
        run(*base, "-o", str(t / "tiny_vit.f16.eam"), "--weights", "f16")
        run(*base, "-o", str(t / "tiny_vit.eam30.eam"), "--weights", "f16", "--calib", str(images),
            "--sparsity", "0.3", "--attn-bits", "3", "--report", str(t / "report.json"))
        run(eamc, "calibrate", str(model), "--heads", "2", "--calib", str(images), "-o", str(t / "tiny_vit.eamstats"))
        for name in ["tiny_vit.eam", "tiny_vit.f16.eam", "tiny_vit.eam30.eam"]:
            eam = (t / name).read_bytes()
            for target in ["eam-header", "eam-model", "eam-memory"]:
                (CORPUS / target / f"seed-{name}").write_bytes(eam)
            (CORPUS / "eam-manifest" / f"seed-{name}.manifest").write_bytes(manifest(eam))
        shutil.copyfile(t / "tiny_vit.eamstats", CORPUS / "eamstats" / "seed-tiny_vit.eamstats")
    eam_run_npy_seeds()
    structured_seeds()

    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"wrote seeds for {len(targets)} targets in {CORPUS.relative_to(ROOT)} ({total // 1024} KB in all)")


if __name__ == "__main__":
    main()
