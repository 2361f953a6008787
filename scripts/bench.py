#!/usr/bin/env python3
"""`make bench`: eamc beside ONNX Runtime and PyTorch, in one run, on this machine.

Models: the real DINOv2-S/14 (../shared/models, or the bundled fp16 example when ../shared is
absent) at 224 px, and at 448 and 518 px with its position embedding resampled by
scripts/resize_pos_embed.py; DeiT-S with the seeded weights of scripts/seeded_weights.py (same
speed as trained weights). For each (model, image size, batch): eamc artifacts compiled as f32,
int8 and int4 (and int8 + EAM 20 % with 2-bit maps when calibration images are at hand), ONNX
Runtime f32 and int8 (`quantize_dynamic`), PyTorch f32 and dynamic int8. Every engine runs
ROUNDS times in alternation (eamc artifacts, then the reference engines, then again), each
round ITERS/ROUNDS timed runs; a latency is the median of the rounds' medians.

Besides latency: the artifact's size (and its ratio to the f32 checkpoint), `eam-run`'s peak
RSS on one batch (scripts/peak_memory.py), and the output cosine to the float model on
held-out images (every 4th image of ../shared/images/calib by name, as make fidelity; eamc
artifacts by `eamc eval` against the checkpoint, the int8 reference engines against their own
f32 engine). Writes docs/BENCHMARKS.md and the README's bench section (batch-1 rows); on a CPU
where eamc runs its AVX2 kernels (no AVX-512), docs/BENCHMARKS_AVX2.md and the README's
bench-avx2 section instead, so that the latest table of each kind of machine stays side by side.

    .venv/bin/python scripts/bench.py --eamc .build/release/eamc [--configs dinov2:224:1,...]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(SCRIPTS))
from docs_section import publish  # noqa: E402

CONFIGS = "dinov2:224:1,dinov2:224:8,dinov2:448:1,dinov2:518:1,deit_small:224:1,deit_small:224:8"
REFERENCE_ENGINES = ["onnxruntime", "onnxruntime-int8", "torch", "torch-int8"]
LABELS = {"onnxruntime": "ONNX Runtime f32", "onnxruntime-int8": "ONNX Runtime int8 (dynamic)",
          "torch": "PyTorch f32", "torch-int8": "PyTorch int8 (dynamic)"}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def checkpoint(model: str, size: int, work: Path) -> Path:
    """The float checkpoint eamc compiles and the reference engines load."""
    if model == "dinov2":
        shared = SHARED / "models" / "dinov2_vits14_224.pth"
        if size == 224:
            return shared if shared.exists() else ROOT / "examples/models/dinov2_vits14_224.fp16.safetensors"
        path = work / f"dinov2_{size}.safetensors"
        if not path.exists():
            subprocess.run([sys.executable, str(SCRIPTS / "resize_pos_embed.py"), str(shared), str(size), str(path)],
                           check=True, stdout=subprocess.DEVNULL)
        return path
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


def json_lines(cmd: list[str]) -> list[dict]:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def split_images(work: Path) -> tuple[Path, Path] | None:
    """Calibration and held-out folders (symlinks), every 4th image by name held out."""
    source = SHARED / "images" / "calib"
    if not source.is_dir():
        return None
    names = sorted((n for n in os.listdir(source) if n.lower().endswith((".jpg", ".jpeg", ".png"))), key=str.encode)
    calib, held = work / "images" / "calib", work / "images" / "eval"
    for folder in (calib, held):
        folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        link = (held if i % 4 == 3 else calib) / name
        if not link.exists():
            link.symlink_to(source / name)
    return calib, held


def eamc_variants(model: str, size: int, stats: Path | None, calib: Path | None) -> list[tuple[str, list[str]]]:
    """int4 rounds with GPTQ and int8 static takes its ranges on the calibration images when
    they are at hand (the bundled demo has none of its own here)."""
    out = [("f32", ["--weights", "f32"]), ("int8", ["--weights", "int8"])]
    if calib is not None:
        out.append(("int8 static", ["--weights", "int8", "--act-quant", "static", "--calib", str(calib)]))
        out.append(("int4 GPTQ", ["--weights", "int4", "--calib", str(calib)]))
    else:
        out.append(("int4", ["--weights", "int4"]))
    if stats is not None and size == 224:
        out.append(("int8 + EAM 20% 2-bit", ["--weights", "int8", "--stats", str(stats), "--sparsity", "0.2", "--attn-bits", "2"]))
    return out


def peak_rss(eam_run: Path, artifact: Path, batch: int, size: int, threads: int, work: Path) -> int | None:
    import numpy as np
    x = work / f"x_{batch}_{size}.npy"
    if not x.exists():
        np.save(x, np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32))
    y = work / "y.npy"
    r = json_lines([sys.executable, str(SCRIPTS / "peak_memory.py"), "--", str(eam_run), str(artifact), str(x), str(y),
                    "--threads", str(threads)])
    return r[0]["peak_rss_bytes"] if r and r[0].get("status") == 0 else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eamc", required=True)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--configs", default=CONFIGS, help="MODEL:IMAGE:BATCH,...")
    args = ap.parse_args()
    eamc = Path(args.eamc)
    eam_run = eamc.with_name("eam-run")
    work = ROOT / "out" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    split = split_images(work)
    rows, notes = [], []

    stats = None
    if split is not None:
        stats = work / "dinov2_224.eamstats"
        if not stats.exists():
            subprocess.run([str(eamc), "calibrate", str(checkpoint("dinov2", 224, work)), "--calib", str(split[0]),
                            "-o", str(stats), "-q"], check=True)

    for config in args.configs.split(","):
        model, size, batch = config.split(":")
        size, batch = int(size), int(batch)
        ckpt = checkpoint(model, size, work)
        float_bytes = None
        artifacts = []
        for label, flags in eamc_variants(model, size, stats if model == "dinov2" else None,
                                          split[0] if split is not None else None):
            artifact = work / f"{model}_{size}_{label.replace(' ', '_').replace('%', '').replace('+', '')}.eam"
            if not artifact.exists():
                r = subprocess.run([str(eamc), "compile", str(ckpt), "-o", str(artifact), "-q", *flags],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    notes.append(f"eamc {label} ({model} {size}): not compiled: {r.stderr.strip().splitlines()[-1:]}")
                    continue
            artifacts.append((label, artifact))
            if label == "f32":
                float_bytes = artifact.stat().st_size

        timings: dict[str, list[float]] = {}
        reference_rows: dict[str, dict] = {}
        per_round = max(3, args.iters // args.rounds)
        for round_ in range(args.rounds):
            for label, artifact in artifacts:
                e = json_lines([str(eamc), "bench", str(artifact), "--batch", str(batch), "--threads", str(args.threads),
                                "--iters", str(per_round), "--json"])[0]
                timings.setdefault("eamc " + label, []).append(e["median_ms"])
                kernels = e["kernels"]
            ref_cmd = [sys.executable, str(SCRIPTS / "bench_reference.py"), "--model", model, "--image-size", str(size),
                       "--batch", str(batch), "--threads", str(args.threads), "--iters", str(per_round),
                       "--onnx-dir", str(work / "onnx"), "--engines", ",".join(REFERENCE_ENGINES)]
            if model == "dinov2" and size != 224:
                ref_cmd += ["--checkpoint", str(ckpt)]
            if round_ == 0 and split is not None:
                ref_cmd += ["--cosine-images", str(split[1])]
            for x in json_lines(ref_cmd):
                timings.setdefault(x["engine"], []).append(x["median_ms"])
                reference_rows.setdefault(x["engine"], x)

        ort = statistics.median(timings["onnxruntime"]) if "onnxruntime" in timings else None
        ort8 = statistics.median(timings["onnxruntime-int8"]) if "onnxruntime-int8" in timings else None
        for label, artifact in artifacts:
            cos = None
            if split is not None:
                ev = json_lines([str(eamc), "eval", str(artifact), "--reference", str(ckpt), "--images", str(split[1]),
                                 "--json", "-q"])
                f = ev[0].get("fidelity") if ev else None
                cos = (f["mean_cosine"], f["min_cosine"]) if f else None
            rows.append(dict(model=model, image=size, batch=batch, engine="eamc " + label,
                             ms=statistics.median(timings["eamc " + label]), size=artifact.stat().st_size,
                             float_size=float_bytes, rss=peak_rss(eam_run, artifact, batch, size, args.threads, work),
                             cosine=cos, ort=ort, ort8=ort8, kernels=kernels))
            print(json.dumps(rows[-1]), flush=True)
        for engine in REFERENCE_ENGINES:
            if engine not in timings:
                continue
            x = reference_rows[engine]
            cos = (x["cosine_mean"], x["cosine_min"]) if "cosine_mean" in x else None
            rows.append(dict(model=model, image=size, batch=batch, engine=LABELS[engine], ms=statistics.median(timings[engine]),
                             size=x["size_bytes"], float_size=float_bytes, rss=None, cosine=cos, ort=ort, ort8=ort8))
            print(json.dumps(rows[-1]), flush=True)

    def table(selected):
        t = ["| model | image | batch | engine | size | latency ms | × ORT f32 | × ORT int8 | eam-run peak RSS | cosine to float, mean (worst) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---|"]
        for r in selected:
            size = f"{r['size'] / 2**20:.1f} MiB"
            if r["float_size"]:
                size += f" ({r['size'] / r['float_size']:.0%})"
            ratio = lambda base: f"{r['ms'] / base:.2f}×" if base else "–"
            cos = f"{r['cosine'][0]:.5f} ({r['cosine'][1]:.5f})" if r["cosine"] else "–"
            rss = f"{r['rss'] / 2**20:.0f} MiB" if r["rss"] else "–"
            t.append(f"| {r['model']} | {r['image']} | {r['batch']} | {r['engine']} | {size} | {r['ms']:.1f} | "
                     f"{ratio(r['ort'])} | {ratio(r['ort8'])} | {rss} | {cos} |")
        return "\n".join(t)

    import onnxruntime
    import torch
    kernels = next((r["kernels"] for r in rows if "kernels" in r), "?")
    machine = (f"{cpu_name()}, {os.cpu_count()} cores; eamc kernels {kernels}; onnxruntime {onnxruntime.__version__}, "
               f"torch {torch.__version__}; {args.threads} threads; each engine {args.rounds} alternating rounds of "
               f"{max(3, args.iters // args.rounds)} runs, latency = median of the round medians. Sizes: the file "
               f"(in brackets: of eamc's f32 artifact). Cosine: held-out images (every 4th of ../shared/images/calib); "
               f"eamc against the checkpoint (`eamc eval`), the int8 engines against their own f32 engine.")
    text = table(rows) + f"\n\nMachine: {machine} Command: `make bench`.\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    short = table([r for r in rows if r["batch"] == 1]) + f"\n\nMachine: {machine} Batch 8 and more: docs/BENCHMARKS.md.\n"
    if kernels.startswith("avx2"):
        publish("bench-avx2", "BENCHMARKS_AVX2.md", "Benchmarks on an AVX2-only CPU", text, short)
    else:
        publish("bench", "BENCHMARKS.md", "Benchmarks", text, short)
    print("\n" + text)


if __name__ == "__main__":
    main()
