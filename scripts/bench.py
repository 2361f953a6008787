#!/usr/bin/env python3
"""`make bench`: eamc beside ONNX Runtime and PyTorch, in one run, on this machine.

Models: the real DINOv2-S/14 (../shared/models, or the bundled fp16 example when ../shared is
absent) and DeiT-S with the seeded weights of scripts/seeded_weights.py (same speed as trained
weights). For each model, batch 1 and 8, 1 and 2 threads: eamc's `bench --json`, then
scripts/bench_reference.py (ONNX Runtime and PyTorch). Writes docs/BENCHMARKS.md and the table
between the bench markers of README.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
from docs_section import publish  # noqa: E402


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def prepare(model: str, work: Path) -> Path:
    if model == "dinov2":
        shared = ROOT.parent / "shared" / "models" / "dinov2_vits14_224.pth"
        return shared if shared.exists() else ROOT / "examples/models/dinov2_vits14_224.fp16.safetensors"
    import timm
    import torch
    from safetensors.torch import save_file
    from seeded_weights import seeded_state_dict
    path = work / f"{model}.seeded.safetensors"
    if not path.exists():
        m = timm.create_model({"deit_small": "deit_small_patch16_224"}[model], pretrained=False)
        sd = {k: torch.from_numpy(v.copy()).contiguous() for k, v in seeded_state_dict(m).items()}
        save_file(sd, str(path))
    return path


def run_json_lines(cmd: list[str]) -> list[dict]:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eamc", required=True)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--models", default="dinov2,deit_small")
    args = ap.parse_args()
    work = ROOT / "out" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in args.models.split(","):
        ckpt = prepare(model, work)
        artifact = work / f"{model}.eam"
        subprocess.run([args.eamc, "compile", str(ckpt), "-o", str(artifact)], check=True, capture_output=True)
        for batch in (1, 8):
            for threads in (1, 2):
                iters = max(5, args.iters // (batch if threads == 1 else 1))
                e = run_json_lines([args.eamc, "bench", str(artifact), "--batch", str(batch), "--threads", str(threads),
                                    "--iters", str(iters), "--json"])[0]
                ref = run_json_lines([sys.executable, str(SCRIPTS / "bench_reference.py"), "--model", model,
                                      "--batch", str(batch), "--threads", str(threads), "--iters", str(iters),
                                      "--onnx-dir", str(work / "onnx")])
                r = {x["engine"]: x for x in ref}
                ort, pt = r.get("onnxruntime", {}).get("median_ms"), r.get("torch", {}).get("median_ms")
                row = dict(model=model, batch=batch, threads=threads, eamc=e["median_ms"], ort=ort, torch=pt,
                           rss=e["peak_rss_bytes"], load=e["load_ms"], kernels=e["kernels"])
                rows.append(row)
                print(json.dumps(row), flush=True)
    table = ["| model | batch | threads | eamc ms | ONNX Runtime ms | PyTorch ms | eamc / ORT | eamc / PyTorch | eamc peak RSS | eamc load |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        table.append(f"| {r['model']} | {r['batch']} | {r['threads']} | {r['eamc']:.1f} | {r['ort']:.1f} | {r['torch']:.1f} | "
                     f"{r['eamc'] / r['ort']:.2f}× | {r['eamc'] / r['torch']:.2f}× | {r['rss'] / 2**20:.0f} MiB | {r['load']:.0f} ms |")
    import onnxruntime
    import torch
    machine = (f"{cpu_name()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; "
               f"eamc kernels {rows[0]['kernels']}; onnxruntime {onnxruntime.__version__}, torch {torch.__version__}; "
               f"medians over {args.iters} runs (fewer for batch 8 on one thread)")
    text = "\n".join(table) + f"\n\nMachine: {machine}. Command: `make bench`.\n"
    publish("bench", "BENCHMARKS.md", "Benchmarks", text)
    print("\n" + text)


if __name__ == "__main__":
    main()
