#!/usr/bin/env python3
"""Reference latencies for `make bench`: ONNX Runtime and PyTorch on the same model, CPU.

Models:
  dinov2       timm vit_small_patch14_dinov2 (no head) with ../shared/models/dinov2_vits14_224.pth,
               or --checkpoint (a safetensors state dict, e.g. scripts/resize_pos_embed.py's at 518)
  deit_small   timm deit_small_patch16_224 with the seeded weights of scripts/seeded_weights.py
  deit_tiny    timm deit_tiny_patch16_224, seeded weights
  swin_tiny    timm swin_tiny_patch4_window7_224, seeded weights

Engines (--engines, comma-separated):
  onnxruntime       the model exported once to ONNX (opset 17, fixed batch, legacy TorchScript
                    exporter, weights inside) as ONNX_DIR/MODEL_SIZE_bBATCH.onnx (reused if present)
  onnxruntime-int8  that file after onnxruntime.quantization's pre-processing, quantize_dynamic
                    with QInt8 weights (per tensor, ORT's default), as ..._int8.onnx
  torch             the eager timm model under inference_mode
  torch-int8        torch.ao.quantization.quantize_dynamic over every nn.Linear (qint8)
For each engine: WARMUP untimed runs, ITERS timed runs (wall clock per call). One JSON line per
engine on stdout: {"engine", "model", "image_size", "batch", "threads", "median_ms", "p10_ms",
"p90_ms", "images_per_s", "size_bytes"} and, with --cosine-images, "cosine_mean" and
"cosine_min": each image's output against the f32 engine of the same kind (int8 engines only;
images resized, centre-cropped and normalised here with PIL). Diagnostics go to stderr.

Example: .venv/bin/python scripts/bench_reference.py --model dinov2 --batch 1 --threads 2 --iters 20
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import SHARED  # noqa: E402

SEEDED = {"deit_small": "deit_small_patch16_224", "deit_tiny": "deit_tiny_patch16_224",
          "swin_tiny": "swin_tiny_patch4_window7_224"}


def build(model: str, image_size: int = 224, checkpoint: str | None = None) -> torch.nn.Module:
    import timm
    if model == "dinov2":
        m = timm.create_model("vit_small_patch14_dinov2", img_size=image_size, num_classes=0)
        if checkpoint:
            from safetensors.torch import load_file
            m.load_state_dict(load_file(checkpoint))
        else:
            m.load_state_dict(torch.load(SHARED / "models" / "dinov2_vits14_224.pth", map_location="cpu",
                                         weights_only=True))
    elif model in SEEDED:
        from seeded_weights import seeded_state_dict
        m = timm.create_model(SEEDED[model], pretrained=False)
        m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in seeded_state_dict(m).items()})
    else:
        raise SystemExit(f"unknown model {model!r}; choose from dinov2, {', '.join(SEEDED)}")
    return m.eval()


def export(m: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(m, (x,), str(tmp), opset_version=17, input_names=["pixel_values"],
                          output_names=["output"], dynamo=False, do_constant_folding=True)
    tmp.replace(path)


def timeit(fn, warmup: int, iters: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return np.array(ts)


def report(engine, a, ts, size_bytes, cosines=None):
    med = float(np.median(ts))
    row = {"engine": engine, "model": a.model, "image_size": a.image_size, "batch": a.batch, "threads": a.threads,
           "median_ms": round(med, 3), "p10_ms": round(float(np.percentile(ts, 10)), 3),
           "p90_ms": round(float(np.percentile(ts, 90)), 3), "images_per_s": round(a.batch * 1000.0 / med, 3),
           "size_bytes": size_bytes}
    if cosines is not None and len(cosines):
        row["cosine_mean"] = float(np.mean(cosines))
        row["cosine_min"] = float(np.min(cosines))
    print(json.dumps(row), flush=True)


def images(folder: str, size: int) -> np.ndarray:
    """Every image of `folder` as [N, 3, size, size]: shorter side to size·256/224 (bicubic),
    centre crop, ImageNet mean and std."""
    from PIL import Image
    out = []
    resize = round(size * 256 / 224)
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        im = Image.open(os.path.join(folder, name)).convert("RGB")
        w, h = im.size
        s = resize / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        x = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
        x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
        out.append(x.transpose(2, 0, 1))
    return np.stack(out)


def cosines(f, g, x: np.ndarray) -> list[float]:
    out = []
    for i in range(x.shape[0]):
        a, b = f(x[i:i + 1]).reshape(-1).astype(np.float64), g(x[i:i + 1]).reshape(-1).astype(np.float64)
        out.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return out


def torch_bytes(m: torch.nn.Module) -> int:
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    return buf.getbuffer().nbytes


def session(path: Path, threads: int):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="dinov2")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--checkpoint", help="dinov2: a safetensors state dict instead of the shared one")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--onnx-dir", default="out/bench-onnx")
    ap.add_argument("--engines", default="onnxruntime,torch")
    ap.add_argument("--cosine-images", help="a folder of images: cosine of the int8 engines to f32")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = build(a.model, a.image_size, a.checkpoint)
    x = torch.randn(a.batch, 3, a.image_size, a.image_size, generator=torch.Generator().manual_seed(0))
    real = images(a.cosine_images, a.image_size) if a.cosine_images else None
    engines = a.engines.split(",")
    if "torch" in engines or "torch-int8" in engines:
        with torch.inference_mode():
            if "torch" in engines:
                report("torch", a, timeit(lambda: m(x), a.warmup, a.iters), torch_bytes(m))
            if "torch-int8" in engines:
                q = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
                cos = None
                if real is not None:
                    cos = cosines(lambda v: m(torch.from_numpy(v)).numpy(), lambda v: q(torch.from_numpy(v)).numpy(), real)
                report("torch-int8", a, timeit(lambda: q(x), a.warmup, a.iters), torch_bytes(q), cos)
    if "onnxruntime" in engines or "onnxruntime-int8" in engines:
        path = Path(a.onnx_dir) / f"{a.model}_{a.image_size}_b{a.batch}.onnx"
        if not path.exists():
            print(f"exporting {path}", file=sys.stderr)
            export(m, x, path)
        sess = session(path, a.threads)
        name = sess.get_inputs()[0].name
        feed = {name: x.numpy()}
        if "onnxruntime" in engines:
            report("onnxruntime", a, timeit(lambda: sess.run(None, feed), a.warmup, a.iters), path.stat().st_size)
        if "onnxruntime-int8" in engines:
            qpath = path.with_name(path.stem + "_int8.onnx")
            if not qpath.exists():
                from onnxruntime.quantization import QuantType, quantize_dynamic
                from onnxruntime.quantization.shape_inference import quant_pre_process
                pre = path.with_name(path.stem + "_pre.onnx")
                quant_pre_process(str(path), str(pre))
                tmp = qpath.with_suffix(".onnx.tmp")
                quantize_dynamic(str(pre), str(tmp), weight_type=QuantType.QInt8)
                tmp.replace(qpath)
                pre.unlink()
            qs = session(qpath, a.threads)
            cos = None
            if real is not None:
                if a.batch == 1:
                    cos = cosines(lambda v: sess.run(None, {name: v})[0], lambda v: qs.run(None, {name: v})[0], real)
                else:
                    print("cosine for onnxruntime-int8 needs --batch 1 (the exported graph has a fixed batch)", file=sys.stderr)
            report("onnxruntime-int8", a, timeit(lambda: qs.run(None, feed), a.warmup, a.iters), qpath.stat().st_size, cos)


if __name__ == "__main__":
    main()
