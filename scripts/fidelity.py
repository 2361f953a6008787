#!/usr/bin/env python3
"""EAM fidelity table: sparsity x bits x selection, against both controls, on held-out images.

Uses only the release `eamc` and the Python standard library (no torch). Splits
../shared/images/calib by name (every 4th file held out, as the test in
Tests/EAMCompilerTests/FidelityTests.swift does), calibrates the real DINOv2-S/14 once on the
rest, then compiles with `--stats` and `--eval` for every setting; each report carries the EAM
figure and the std and random controls at the same sparsity. Writes docs/FIDELITY.md and the
README section between <!-- fidelity:start --> and <!-- fidelity:end -->.

    python3 scripts/fidelity.py --eamc .build/release/eamc
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docs_section import publish

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models/dinov2_vits14_224.pth"
IMAGES = SHARED / "images/calib"
SPARSITIES = [0.1, 0.2, 0.3, 0.4, 0.5]
BITS = [1, 2, 4, 8]


def split(dest: Path):
    names = sorted((n for n in os.listdir(IMAGES) if n.lower().endswith((".jpg", ".jpeg", ".png"))),
                   key=lambda n: n.encode())
    for i, name in enumerate(names):
        folder = dest / ("eval" if i % 4 == 3 else "calib")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(IMAGES / name)
    return len(list((dest / "calib").iterdir())), len(list((dest / "eval").iterdir()))


def compile_report(eamc, work: Path, stats: Path, sparsity, bits, extra=()):
    out = work / f"s{sparsity}-b{bits}{''.join(extra)}.eam"
    cmd = [eamc, "compile", str(MODEL), "-o", str(out), "--stats", str(stats), "--sparsity", str(sparsity),
           "--attn-bits", str(bits), "--eval", str(work / "eval"), *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    report = json.loads(out.with_suffix(".report.json").read_text())
    out.unlink()
    return report


def cell(f):
    return f"{f['mean_cosine']:.5f} ({f['min_cosine']:.4f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eamc", default=str(ROOT / ".build/release/eamc"))
    args = ap.parse_args()
    if not MODEL.exists():
        sys.exit(f"{MODEL}: not found (the real DINOv2-S/14 lives in ../shared)")
    with tempfile.TemporaryDirectory(prefix="eamc-fidelity-") as tmp:
        work = Path(tmp)
        n_calib, n_eval = split(work)
        stats = work / "calib.eamstats"
        t0 = time.time()
        subprocess.run([args.eamc, "calibrate", str(MODEL), "--calib", str(work / "calib"), "-o", str(stats)],
                       check=True, stdout=subprocess.DEVNULL)
        calib_s = time.time() - t0
        rows, first = [], None
        for s in SPARSITIES:
            for b in BITS:
                r = compile_report(args.eamc, work, stats, s, b)
                first = first or r
                f = r["fidelity"]
                rows.append((s, b, f["eam"], f["control_std"], f["control_random"]))
                print(f"{s:.0%} {b} bits: eam {f['eam']['mean_cosine']:.5f} std {f['control_std']['mean_cosine']:.5f} "
                      f"random {f['control_random']['mean_cosine']:.5f}", flush=True)
        budgets = []
        for s in [0.2, 0.3]:
            for budget in ["global", "per-layer", "per-head"]:
                r = compile_report(args.eamc, work, stats, s, 2, ("--budget", budget))
                budgets.append((s, budget, r["fidelity"]["eam"]))
        layer = compile_report(args.eamc, work, stats, 0.2, 2)["layer_error"]["relative"]

    eam = first["eam"]
    text = (f"DINOv2-S/14 (`../shared/models/dinov2_vits14_224.pth`), calibrated on {n_calib} real images of "
            f"`../shared/images/calib`, evaluated on the other {n_eval} (every 4th file by name). Cosine of the "
            "output to the float model's, mean over the held-out images (min in brackets). Selection "
            f"`{eam['criterion']}` at entropy resolution 1/{round(1 / eam['entropy_resolution'])}, frozen value "
            f"`{eam['frozen_value']}`; the controls use the same frozen values and bits and differ only in which "
            "entries they freeze. Written by `make fidelity` (`scripts/fidelity.py`); calibration took "
            f"{calib_s:.0f} s.\n\n")
    text += "| sparsity | attn bits | EAM (entropy) | std control | random control | EAM − std |\n|---:|---:|---:|---:|---:|---:|\n"
    for s, b, e, sd, rnd in rows:
        bold = lambda x, ok: f"**{x}**" if ok else x
        text += (f"| {s:.0%} | {b} | {bold(cell(e), e['mean_cosine'] >= sd['mean_cosine'])} | {cell(sd)} | {cell(rnd)} | "
                 f"{e['mean_cosine'] - sd['mean_cosine']:+.5f} |\n")
    text += "\nBudget allocation (2 bits; EAM figure):\n\n| sparsity | global | per layer | per head |\n|---:|---:|---:|---:|\n"
    for s in [0.2, 0.3]:
        cells = [cell(f) for (ss, _, f) in budgets if ss == s]
        text += f"| {s:.0%} | " + " | ".join(cells) + " |\n"
    text += ("\nPer-block relative error of the residual stream at 20%, 2 bits (held-out images): "
             + " ".join(f"{x:.3f}" for x in layer) + "\n")
    publish("fidelity", "FIDELITY.md", "EAM fidelity", text)
    print(text)


if __name__ == "__main__":
    main()
