#!/usr/bin/env python3
"""`make passes`: every compression pass alone and combined on the real DINOv2-S/14, held out.

Uses only the release `eamc` and the Python standard library (no torch). Splits
../shared/images/calib by name (every 4th image held out, as make fidelity), then compiles the
checkpoint once per setting with `--calib` (the passes fit on those images) and `--eval`, measures
each artifact against the checkpoint on the held-out images with `eamc eval`, and times each artifact against the float one with
`eamc bench --compare` (alternating runs, batch 1, 2 threads). Writes docs/PASSES.md, the
README section between <!-- passes:start --> and <!-- passes:end -->, and docs/pareto.svg
(latency against output error: the Pareto front).

    python3 scripts/passes.py --eamc .build/release/eamc
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from docs_section import publish

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models/dinov2_vits14_224.pth"
IMAGES = SHARED / "images/calib"

SETTINGS = [
    ("float", "f32", []),
    ("removal", "lambda auto:1", ["--remove-attention", "auto:1"]),
    ("removal", "lambda auto:2", ["--remove-attention", "auto:2"]),
    ("removal", "lambda auto:4", ["--remove-attention", "auto:4"]),
    ("removal", "skip auto:2", ["--remove-attention", "auto:2", "--removal-mode", "skip"]),
    ("hallucinated heads", "1 of 6", ["--hallucinate-heads", "0.17"]),
    ("hallucinated heads", "2 of 6", ["--hallucinate-heads", "0.34"]),
    ("hallucinated heads", "3 of 6", ["--hallucinate-heads", "0.5"]),
    ("compact FFN", "rank 0.75", ["--compact-ffn", "0.75"]),
    ("compact FFN", "rank 0.5", ["--compact-ffn", "0.5"]),
    ("compact FFN", "rank 0.25", ["--compact-ffn", "0.25"]),
    ("EAM", "20%, 2-bit", ["--sparsity", "0.2", "--attn-bits", "2"]),
    ("EAM", "30%, 2-bit", ["--sparsity", "0.3", "--attn-bits", "2"]),
    ("int8", "weights int8", ["--weights", "int8"]),
    ("combined", "1 of 6 heads + EAM 20%", ["--hallucinate-heads", "0.17", "--sparsity", "0.2"]),
    ("combined", "1 of 6 heads + EAM 20% + int8", ["--hallucinate-heads", "0.17", "--sparsity", "0.2", "--weights", "int8"]),
    ("combined", "compact 0.75 + EAM 20% + int8", ["--compact-ffn", "0.75", "--sparsity", "0.2", "--weights", "int8"]),
]


def split(dest: Path):
    names = sorted((n for n in os.listdir(IMAGES) if n.lower().endswith((".jpg", ".jpeg", ".png"))), key=str.encode)
    for i, name in enumerate(names):
        folder = dest / ("eval" if i % 4 == 3 else "calib")
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / name
        if not link.exists():
            link.symlink_to(IMAGES / name)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out[out.index("{"):])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eamc", default=str(ROOT / ".build/release/eamc"))
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--reuse", action="store_true", help="keep artifacts (and reports) already compiled in out/passes")
    args = ap.parse_args()
    if not MODEL.exists():
        sys.exit(f"{MODEL} is missing (../shared)")
    work = ROOT / "out" / "passes"
    work.mkdir(parents=True, exist_ok=True)
    split(work)
    float_eam = work / "float.eam"
    subprocess.run([args.eamc, "compile", str(MODEL), "-o", str(float_eam), "-q"], check=True, stdout=subprocess.DEVNULL)
    rows = []
    for kind, label, flags in SETTINGS:
        if kind == "float":
            eam = float_eam
            report = None
        else:
            eam = work / f"{kind}-{label}.eam".replace(" ", "_").replace("%", "").replace("+", "").replace(",", "")
            # A weight type alone is no pass: no calibration, no report.
            plain = all(f in ("--weights", "int8", "int4", "f16") for f in flags)
            cmd = [args.eamc, "compile", str(MODEL), "-o", str(eam), "-q", *flags] + (
                [] if plain else ["--calib", str(work / "calib"), "--eval", str(work / "eval")])
            done = args.reuse and eam.exists() and (plain or eam.with_suffix(".report.json").exists())
            r = subprocess.CompletedProcess(cmd, 0) if done else subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{kind} {label}: not compiled: {r.stderr.strip()[-300:]}", file=sys.stderr)
                continue
            report = None if plain else json.loads(eam.with_suffix(".report.json").read_text())
        # The artifact itself against the checkpoint (the report's figures use float weights).
        ev = run_json([args.eamc, "eval", str(eam), "--reference", str(MODEL), "--images", str(work / "eval"), "--json", "-q"])
        b = run_json([args.eamc, "bench", str(eam), "--compare", str(float_eam), "--batch", "1", "--threads", "2",
                      "--iters", str(args.iters), "--json"])
        row = dict(kind=kind, label=label, flags=" ".join(flags), bytes=eam.stat().st_size,
                   ms=b["median_ms"], ratio=b["ratio"]["median"], kernels=b["kernels"], cpu=b["cpu"])
        f = ev["fidelity"]
        row.update(cosine=f["mean_cosine"], worst=f["min_cosine"], flops=report["flops"]["saved_fraction"] if report else 0.0)
        rows.append(row)
        print(json.dumps(row), flush=True)

    float_bytes = rows[0]["bytes"]
    table = ["| pass | setting | FLOPs saved | size | latency (× float) | cosine to float, mean (worst) |",
             "|---|---|---:|---:|---:|---|"]
    for r in rows:
        table.append(f"| {r['kind']} | {r['label']} | {r['flops']:.1%} | {r['bytes'] / 2**20:.1f} MiB ({r['bytes'] / float_bytes:.0%}) | "
                     f"{r['ms']:.1f} ms ({r['ratio']:.2f}×) | {r['cosine']:.5f} ({r['worst']:.4f}) |")
    front = pareto(rows)
    svg(rows, front, ROOT / "docs" / "pareto.svg")
    text = ("\n".join(table) + "\n\n"
            f"Held-out: every 4th image of ../shared/images/calib by name; the passes fit on the others. Latency: "
            f"`eamc bench --compare` against the float artifact, {args.iters} alternating runs each, batch 1, 2 threads, "
            f"{rows[0]['cpu']}, kernels {rows[0]['kernels']}. FLOPs: the compiled model's forward pass against the "
            f"float one's (eamc's count). Command: `make passes`.\n\n"
            f"On the Pareto front of latency against output error (docs/pareto.svg): "
            + ", ".join(f"{rows[i]['kind']} {rows[i]['label']}" for i in front) + ".\n\n"
            "![latency against 1 − cosine](docs/pareto.svg)\n")
    publish("passes", "PASSES.md", "Compression passes on DINOv2-S/14", text)
    print("\n" + text)


def pareto(rows):
    """Indices of the settings no other setting beats on both latency and mean output error."""
    out = []
    for i, r in enumerate(rows):
        if not any(o["ms"] <= r["ms"] and 1 - o["cosine"] <= 1 - r["cosine"] and (o["ms"], o["cosine"]) != (r["ms"], r["cosine"])
                   for o in rows):
            out.append(i)
    return sorted(out, key=lambda i: rows[i]["ms"])


def svg(rows, front, path: Path):
    """Latency (x) against 1 − mean cosine (y, log scale), the front joined; plain SVG."""
    w, h, m = 640, 400, 60
    xs = [r["ms"] for r in rows]
    errors = [max(1 - r["cosine"], 1e-6) for r in rows]
    x0, x1 = min(xs) * 0.95, max(xs) * 1.05
    y0, y1 = math.log10(min(errors)) - 0.2, math.log10(max(errors)) + 0.2

    def px(x):
        return m + (x - x0) / (x1 - x0) * (w - 2 * m)

    def py(e):
        return h - m - (math.log10(e) - y0) / (y1 - y0) * (h - 2 * m)
    colours = {"float": "#000", "removal": "#d62728", "hallucinated heads": "#9467bd", "compact FFN": "#2ca02c",
               "EAM": "#1f77b4", "int8": "#ff7f0e", "combined": "#8c564b"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="#333"/>',
             f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="#333"/>',
             f'<text x="{w / 2}" y="{h - 20}" text-anchor="middle">latency, ms (batch 1, 2 threads)</text>',
             f'<text x="15" y="{h / 2}" transform="rotate(-90 15 {h / 2})" text-anchor="middle">1 − cosine to float (log)</text>']
    for k in range(math.ceil(y0), math.floor(y1) + 1):
        parts.append(f'<text x="{m - 5}" y="{py(10 ** k) + 4}" text-anchor="end">1e{k}</text>')
    parts.append('<polyline fill="none" stroke="#999" stroke-dasharray="4 3" points="'
                 + " ".join(f"{px(rows[i]['ms']):.1f},{py(errors[i]):.1f}" for i in front) + '"/>')
    for i, r in enumerate(rows):
        c = colours.get(r["kind"], "#333")
        parts.append(f'<circle cx="{px(r["ms"]):.1f}" cy="{py(errors[i]):.1f}" r="4" fill="{c}"/>')
        parts.append(f'<text x="{px(r["ms"]) + 6:.1f}" y="{py(errors[i]) - 4:.1f}" fill="{c}">{r["kind"]} {r["label"]}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
