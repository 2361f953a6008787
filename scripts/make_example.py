#!/usr/bin/env python3
"""The bundled example -> examples/.

  examples/models/dinov2_vits14_224.fp16.safetensors   ../shared/models/dinov2_vits14_224.pth as float16,
                                                        timm key names (sorted), ~44 MB
  examples/images/calib/*.jpg   12 calibration images   (copied byte for byte if JPEG; PNG re-encoded
  examples/images/eval/*.jpg     4 held-out images       as JPEG quality 90, 4:2:0)
  examples/images/SOURCES.tsv   origin of each image (from ../shared/images/calib/SOURCES.tsv)
  examples/reference/eval_outputs.npy  [4, 384] timm vit_small_patch14_dinov2 outputs of the
                                        fp16-rounded weights (cast back to float32) on the eval images
  examples/reference/eval_files.txt     the eval image files, in row order

Run: /work/main/.venv/bin/python scripts/make_example.py
"""
from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import ROOT, SHARED, load_images, save_npy, set_determinism, stats, write_json  # noqa: E402

EX = ROOT / "examples"
SRC_IMAGES = SHARED / "images" / "calib"
WEIGHTS = SHARED / "models" / "dinov2_vits14_224.pth"
FP16 = EX / "models" / "dinov2_vits14_224.fp16.safetensors"

# Varied subjects: nature, animals, text, aerial, grey, man-made objects, textures.
# (scikit-image-chelsea / -coffee are the Tests/Fixtures/seeded input and are not used here.)
CALIB = [
    "mate-backgrounds-Aqua.jpg", "mate-backgrounds-Garden.jpg", "mate-backgrounds-LadyBird.jpg",
    "mate-backgrounds-TwoWings.jpg", "opencv-doc-HappyFish.jpg", "opencv-doc-baboon.jpg",
    "opencv-doc-fruits.png", "opencv-doc-aero1.jpg", "scikit-image-camera.png",
    "scikit-image-motorcycle_right.jpg", "opencv-doc-scenetext02.jpg", "opencv-doc-pic3.jpg",
]
EVAL = [
    "mate-backgrounds-YellowFlower.jpg", "opencv-doc-squirrel_cls.jpg", "opencv-doc-apple.jpg",
    "opencv-doc-smarties.jpg",
]
# Licence information is not in ../shared/images/calib/SOURCES.tsv and was not verifiable offline;
# these point to the place that states it.
LICENCE = {
    "mate-backgrounds": "see Debian package mate-backgrounds, /usr/share/doc/mate-backgrounds/copyright (not verified here)",
    "opencv-doc": "see Debian package opencv-doc, /usr/share/doc/opencv-doc/copyright (OpenCV sample data; not verified here)",
    "scikit-image": "see scikit-image skimage/data/README.txt (per-image; not verified here)",
}


def convert_weights():
    from safetensors.torch import save_file
    sd = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    out = {}
    for k in sorted(sd):
        v = sd[k].float()
        assert v.abs().max() < 65504, k
        out[k] = v.half().contiguous()
    FP16.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(FP16), metadata={"format": "pt"})
    return out


def copy_images():
    from PIL import Image
    rows = {}
    with open(SRC_IMAGES / "SOURCES.tsv") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.setdefault(r["file"], []).append(r)
    out_rows = []
    for split, names in (("calib", CALIB), ("eval", EVAL)):
        d = EX / "images" / split
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        for n in names:
            src = SRC_IMAGES / n
            dst = d / (Path(n).stem + ".jpg")
            if n.lower().endswith(".jpg"):
                shutil.copyfile(src, dst)
                how = "copied"
            else:
                im = Image.open(src)
                im = im.convert("L" if im.mode in ("L", "LA", "I;16") else "RGB")
                im.save(dst, format="JPEG", quality=90, subsampling=2, optimize=False)
                how = "PNG re-encoded as JPEG q90"
            for r in rows[n]:
                out_rows.append([f"{split}/{dst.name}", n, r["package"], r["path in package"], how,
                                 LICENCE[r["package"]]])
    with open(EX / "images" / "SOURCES.tsv", "w") as f:
        f.write("file\tshared file\tpackage\tpath in package\thow\tlicence\n")
        for r in out_rows:
            f.write("\t".join(r) + "\n")
    return [EX / "images" / "eval" / (Path(n).stem + ".jpg") for n in EVAL]


def reference(sd16, eval_files):
    import timm
    m = timm.create_model("vit_small_patch14_dinov2", img_size=224, num_classes=0).eval()
    m.load_state_dict({k: v.float() for k, v in sd16.items()})
    x = load_images(eval_files)
    with torch.inference_mode():
        y = m(x)
    m32 = timm.create_model("vit_small_patch14_dinov2", img_size=224, num_classes=0).eval()
    m32.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    with torch.inference_mode():
        y32 = m32(x)
    yn = torch.nn.functional.normalize(y, dim=1)
    cos = yn @ yn.T
    ref = EX / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    save_npy(ref / "eval_outputs.npy", y)
    with open(ref / "eval_files.txt", "w") as f:
        for p in eval_files:
            f.write(str(p.relative_to(EX)) + "\n")
    write_json(ref / "eval_outputs.json", {
        "model": "timm vit_small_patch14_dinov2(img_size=224, num_classes=0), weights = "
                 "models/dinov2_vits14_224.fp16.safetensors cast to float32",
        "input": "eval_files.txt, in order, through timm's eval transform (RGB, Resize 256 bicubic, "
                 "CenterCrop 224, ImageNet mean/std)",
        "output": "eval_outputs.npy [4, 384] float32: model(x) = final-LayerNorm'd class token",
        "stats": stats(y.numpy()),
        "cosine_between_images": [[round(float(v), 4) for v in row] for row in cos],
        "fp16_rounding_effect": {
            "what": "same images through the original float32 weights (../shared .pth)",
            "max_abs_diff_vs_fp32_weights": float((y - y32).abs().max()),
            "min_cosine_vs_fp32_weights": float(torch.nn.functional.cosine_similarity(y, y32, dim=1).min()),
        },
        "computed": "torch single-threaded, float32, eval mode",
    })
    print("eval outputs", tuple(y.shape), "absmax", float(y.abs().max()))


def main():
    set_determinism(0, threads=1)
    sd16 = convert_weights()
    eval_files = copy_images()
    reference(sd16, eval_files)


if __name__ == "__main__":
    main()
