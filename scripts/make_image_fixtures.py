#!/usr/bin/env python3
"""Generates the EAMImage test fixtures with PIL + numpy (+ torchvision/timm for the transforms).

Run with the project venv:  /work/main/.venv/bin/python scripts/make_image_fixtures.py
Writes into Tests/EAMImageTests/Fixtures/:
  decode/<name>.{png,jpg}      small synthetic inputs (some hand-packed PNGs PIL cannot write)
  decode/<name>.rgb.npy        PIL's Image.open(p).convert('RGB') of each input, uint8 HWC
  decode/bad-*                 corrupt / truncated inputs that must be rejected
  calib.tsv                    for every image in /work/shared/images/calib: size and checksums of
                               the decoded RGB and of Resize+CenterCrop (uint8) for several configs
  crop/<name>.<cfg>.npy        full uint8 Resize+CenterCrop output for a few images
  timm_<name>.npy              timm eval transform output (CHW float32) for one image
  small_upscale.npy            torchvision Resize(50)+CenterCrop(37)+ToTensor+Normalize, float32
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode
import timm.data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "EAMImageTests", "Fixtures")
CALIB = os.path.join(ROOT, "..", "shared", "images", "calib")
if not os.path.isdir(CALIB):
    CALIB = "/work/shared/images/calib"

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# (resize shorter side, crop, interpolation) configurations checked on every calib image.
CONFIGS = [
    (256, 224, "bicubic"), (224, 224, "bicubic"), (160, 144, "bicubic"), (97, 64, "bicubic"),
    (384, 384, "bicubic"), (512, 333, "bicubic"), (256, 224, "bilinear"), (300, 255, "bilinear"),
]
INTERP = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}


def checksum(a: np.ndarray) -> int:
    """Position-weighted checksum, mirrored by the Swift tests: sum((b+1) * (i+1)*K) mod 2^64."""
    b = np.ascontiguousarray(a).reshape(-1).astype(np.uint64) + np.uint64(1)
    idx = np.arange(1, b.size + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        w = idx * np.uint64(0x9E3779B97F4A7C15)
        return int((b * w).sum(dtype=np.uint64))


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width, height, bit_depth, color_type, rows, plte=None, trns=None) -> bytes:
    """Hand-packs a non-interlaced PNG; `rows` are the already-packed scanline bytes."""
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    if plte is not None:
        out += chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    out += chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in rows)))
    return out + chunk(b"IEND", b"")


def adam7_png(rgb: np.ndarray) -> bytes:
    """Hand-packs an interlaced (Adam7) 8-bit RGB PNG."""
    h, w, _ = rgb.shape
    data = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                           (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            data += b"".join(b"\x00" + r.tobytes() for r in sub)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1))
    out += chunk(b"IDAT", zlib.compress(data))
    return out + chunk(b"IEND", b"")


def pack_bits(values, bits):
    out, acc, n = bytearray(), 0, 0
    for v in values:
        acc = (acc << bits) | int(v)
        n += bits
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def gradient(w, h, c, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = [(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx + yy) * 7) % 256]
    a = np.stack([base[i % 3] for i in range(c)], axis=-1).astype(np.int32)
    a = (a + rng.integers(-40, 40, size=a.shape)).clip(0, 255)
    return a.astype(np.uint8)


def synthetic_inputs():
    """Yields (file name, encoded bytes) for the decode fixtures."""
    w, h = 37, 23
    rgb = gradient(w, h, 3, 1)
    g = gradient(w, h, 1, 2)[..., 0]
    rng = np.random.default_rng(3)

    def pil_bytes(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()

    yield "rgb8.png", pil_bytes(Image.fromarray(rgb), "PNG")
    yield "grey8.png", pil_bytes(Image.fromarray(g), "PNG")
    yield "grey1.png", pil_bytes(Image.fromarray(g).convert("1"), "PNG")
    yield "grey16.png", pil_bytes(Image.fromarray((g.astype(np.uint16) * 3 + np.arange(w, dtype=np.uint16)) * 97), "PNG")
    yield "la8.png", pil_bytes(Image.fromarray(np.dstack([g, 255 - g])), "PNG")
    rgba = np.dstack([rgb, g])
    yield "rgba8.png", pil_bytes(Image.fromarray(rgba), "PNG")
    p = Image.fromarray(rgb).quantize(colors=37)
    yield "p8.png", pil_bytes(p, "PNG")
    yield "p8-trns.png", pil_bytes(p, "PNG", transparency=5)
    # Hand-packed variants PIL does not write.
    g4 = rng.integers(0, 16, size=(h, w))
    yield "grey4.png", raw_png(w, h, 4, 0, [pack_bits(r, 4) for r in g4])
    g2 = rng.integers(0, 4, size=(h, w))
    yield "grey2.png", raw_png(w, h, 2, 0, [pack_bits(r, 2) for r in g2])
    pal = [int(v) for v in rng.integers(0, 256, size=5 * 3)]
    i4 = rng.integers(0, 16, size=(h, w))  # indices beyond the 5-entry palette on purpose
    yield "p4-short.png", raw_png(w, h, 4, 3, [pack_bits(r, 4) for r in i4], plte=pal, trns=[0, 128])
    i2 = rng.integers(0, 4, size=(h, w))
    yield "p2.png", raw_png(w, h, 2, 3, [pack_bits(r, 2) for r in i2], plte=pal[:12])
    i8 = rng.integers(0, 256, size=(h, w))
    yield "p8-short.png", raw_png(w, h, 8, 3, [bytes(r.astype(np.uint8)) for r in i8], plte=pal)
    v16 = rng.integers(0, 65536, size=(h, w, 4)).astype(">u2")
    yield "rgb16.png", raw_png(w, h, 16, 2, [r[:, :3].tobytes() for r in v16])
    yield "rgba16.png", raw_png(w, h, 16, 6, [r.tobytes() for r in v16])
    yield "la16.png", raw_png(w, h, 16, 4, [r[:, :2].tobytes() for r in v16])
    yield "grey16-trns.png", raw_png(w, h, 16, 0, [r[:, :1].tobytes() for r in v16 // 64], trns=[0, 7])
    yield "rgb8-trns.png", raw_png(w, h, 8, 2, [r.tobytes() for r in rgb], trns=[0, 1, 0, 2, 0, 3])
    yield "rgb8-adam7.png", adam7_png(rgb)
    # JPEG flavours.
    yield "q90-420.jpg", pil_bytes(Image.fromarray(rgb), "JPEG", quality=90)
    yield "q95-444.jpg", pil_bytes(Image.fromarray(rgb), "JPEG", quality=95, subsampling=0)
    yield "q80-422.jpg", pil_bytes(Image.fromarray(rgb), "JPEG", quality=80, subsampling=1)
    yield "progressive.jpg", pil_bytes(Image.fromarray(rgb), "JPEG", quality=85, progressive=True)
    yield "grey.jpg", pil_bytes(Image.fromarray(g), "JPEG", quality=90)
    cmyk = np.dstack([rgb, g])
    yield "cmyk.jpg", pil_bytes(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=90)


def bad_inputs(good_jpg: bytes, good_png: bytes):
    yield "bad-truncated.jpg", good_jpg[: len(good_jpg) // 2]
    yield "bad-truncated.png", good_png[: len(good_png) // 2]
    yield "bad-header.jpg", good_jpg[:2] + b"\xff\xc0\x00\x02" + good_jpg[2:60]
    crc = bytearray(good_png)
    crc[40] ^= 0xFF  # inside the IHDR/early chunks: CRC or data corruption
    yield "bad-crc.png", bytes(crc)
    yield "bad-format.gif", b"GIF89a" + bytes(40)
    yield "bad-empty.png", b""
    yield "bad-huge.png", raw_png(40000, 40000, 8, 0, [b"\x00"])


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a), allow_pickle=False)


def main():
    dec = os.path.join(FIX, "decode")
    crop = os.path.join(FIX, "crop")
    os.makedirs(dec, exist_ok=True)
    os.makedirs(crop, exist_ok=True)
    files = dict(synthetic_inputs())
    for name, data in files.items():
        with open(os.path.join(dec, name), "wb") as f:
            f.write(data)
        im = Image.open(io.BytesIO(data))
        rgb = np.asarray(im.convert("RGB"))
        save_npy(os.path.join(dec, name + ".rgb.npy"), rgb)
        print(f"{name:18s} {im.format} {im.mode:6s} {im.size}", file=sys.stderr)
    for name, data in bad_inputs(files["q90-420.jpg"], files["rgb8.png"]):
        with open(os.path.join(dec, name), "wb") as f:
            f.write(data)
        try:
            Image.open(io.BytesIO(data)).convert("RGB")
            print(f"note: PIL accepted {name}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001 - just reporting
            print(f"{name:18s} PIL rejects: {type(e).__name__}: {e}", file=sys.stderr)

    full_crops = {"scikit-image-camera.png", "opencv-doc-peilin_shape.png",
                  "opencv-doc-stanford.png", "mate-backgrounds-Elephants.jpg"}
    full_crops_224 = {"scikit-image-camera.png", "mate-backgrounds-Elephants.jpg"}
    lines = ["# name\twidth\theight\tdecoded:sum:checksum\t" +
             "\t".join(f"{r}/{c}/{i}:sum:checksum" for r, c, i in CONFIGS)]
    for name in sorted(os.listdir(CALIB)):
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        im = Image.open(os.path.join(CALIB, name)).convert("RGB")
        a = np.asarray(im)
        cols = [name, str(im.width), str(im.height), f"{int(a.sum(dtype=np.uint64))}:{checksum(a)}"]
        for r, c, i in CONFIGS:
            t = T.Compose([T.Resize(r, interpolation=INTERP[i]), T.CenterCrop(c)])
            out = np.asarray(t(im))
            assert out.shape == (c, c, 3), (name, out.shape)
            cols.append(f"{int(out.sum(dtype=np.uint64))}:{checksum(out)}")
            if (name in full_crops and (r, c, i) == (97, 64, "bicubic")) or (
                    name in full_crops_224 and (r, c, i) == (224, 224, "bicubic")):
                save_npy(os.path.join(crop, f"{name}.{r}-{c}-{i}.npy"), out)
        lines.append("\t".join(cols))
    with open(os.path.join(FIX, "calib.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")

    # End-to-end: timm's own eval transform (crop_pct 0.875 -> Resize(256) + CenterCrop(224)).
    tf = timm.data.create_transform(input_size=224, is_training=False, interpolation="bicubic",
                                    crop_pct=0.875, mean=MEAN, std=STD)
    print(tf, file=sys.stderr)
    im = Image.open(os.path.join(CALIB, "scikit-image-chelsea.jpg")).convert("RGB")
    save_npy(os.path.join(FIX, "timm_scikit-image-chelsea.npy"), tf(im).numpy().astype(np.float32))
    # Upscaling a small image with an odd crop margin (round-half-even in CenterCrop).
    small = Image.open(io.BytesIO(files["q90-420.jpg"])).convert("RGB")
    tf = T.Compose([T.Resize(50, interpolation=InterpolationMode.BICUBIC), T.CenterCrop(37),
                    T.ToTensor(), T.Normalize(MEAN, STD)])
    save_npy(os.path.join(FIX, "small_upscale.npy"), tf(small).numpy().astype(np.float32))


if __name__ == "__main__":
    main()
