#!/usr/bin/env python3
"""Reference latencies for `make bench`: ONNX Runtime and PyTorch on the same model, CPU.

Models:
  dinov2       timm vit_small_patch14_dinov2 (img 224, no head) with ../shared/models/dinov2_vits14_224.pth
  deit_small   timm deit_small_patch16_224 with the seeded weights of scripts/seeded_weights.py
  deit_tiny    timm deit_tiny_patch16_224, seeded weights
  swin_tiny    timm swin_tiny_patch4_window7_224, seeded weights

The model is exported once to ONNX (opset 17, fixed batch, legacy TorchScript exporter, weights
inside the file) as ONNX_DIR/MODEL_bBATCH.onnx (reused if present). Then, for each engine: WARMUP
untimed runs, ITERS timed runs (wall clock per call). One JSON line per engine on stdout:
  {"engine", "model", "batch", "threads", "median_ms", "p10_ms", "p90_ms", "images_per_s"}
(images_per_s = batch / median). Diagnostics (ORT-vs-torch max abs difference) go to stderr.

Example: /work/main/.venv/bin/python scripts/bench_reference.py --model dinov2 --batch 1 --threads 2 --iters 20
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import SHARED  # noqa: E402

SEEDED = {"deit_small": "deit_small_patch16_224", "deit_tiny": "deit_tiny_patch16_224",
          "swin_tiny": "swin_tiny_patch4_window7_224"}


def build(model: str) -> torch.nn.Module:
    import timm
    if model == "dinov2":
        m = timm.create_model("vit_small_patch14_dinov2", img_size=224, num_classes=0)
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


def report(engine, model, batch, threads, ts):
    med = float(np.median(ts))
    print(json.dumps({"engine": engine, "model": model, "batch": batch, "threads": threads,
                      "median_ms": round(med, 3), "p10_ms": round(float(np.percentile(ts, 10)), 3),
                      "p90_ms": round(float(np.percentile(ts, 90)), 3),
                      "images_per_s": round(batch * 1000.0 / med, 3)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="dinov2")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--onnx-dir", default="out/bench-onnx")
    ap.add_argument("--engines", default="onnxruntime,torch")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = build(a.model)
    x = torch.randn(a.batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    engines = a.engines.split(",")
    y_torch = None
    if "torch" in engines:
        with torch.inference_mode():
            y_torch = m(x)
            ts = timeit(lambda: m(x), a.warmup, a.iters)
        report("torch", a.model, a.batch, a.threads, ts)
    if "onnxruntime" in engines:
        import onnxruntime as ort
        path = Path(a.onnx_dir) / f"{a.model}_b{a.batch}.onnx"
        if not path.exists():
            print(f"exporting {path}", file=sys.stderr)
            export(m, x, path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x.numpy()}
        y_ort = sess.run(None, feed)[0]
        if y_torch is not None:
            print(f"onnxruntime vs torch max abs diff: {np.abs(y_ort - y_torch.numpy()).max():.3g}", file=sys.stderr)
        ts = timeit(lambda: sess.run(None, feed), a.warmup, a.iters)
        report("onnxruntime", a.model, a.batch, a.threads, ts)


if __name__ == "__main__":
    main()
