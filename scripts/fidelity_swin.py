#!/usr/bin/env python3
"""EAM fidelity on Swin (frozen window maps): sparsity x bits against the std and random controls.

No trained Swin weights are at hand: Swin-T (timm `swin_tiny_patch4_window7_224`) with the seeded
weights of Tests/Fixtures/seeded/SEEDED_WEIGHTS.md (written here from its keys.json with
scripts/seeded_weights.py's rule), and the small committed Swin fixture
(Tests/Fixtures/models/swin_tiny, at the default image size 224). Same split as scripts/fidelity.py (every 4th file of
../shared/images/calib held out); calibrated once per model, then `eamc compile --stats --eval`
per setting; each report carries the EAM figure and the controls at the same sparsity. Swin ranks
by plain entropy (output sensitivity is measured for the ViT family only). Writes
docs/FIDELITY_SWIN.md (and the README section between <!-- fidelity-swin:start/end --> if present).

    .venv/bin/python scripts/fidelity_swin.py --eamc .build/release/eamc
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_section import publish  # noqa: E402
from fidelity import IMAGES, split  # noqa: E402
from seeded_weights import seeded_value_numpy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDED = "swin_tiny_patch4_window7_224"
SMALL = ROOT / "Tests/Fixtures/models/swin_tiny.safetensors"
SETTINGS = [(0.1, 2), (0.2, 2), (0.3, 2), (0.5, 2), (0.3, 8)]


def write_seeded(path: Path) -> None:
    """The seeded Swin-T as safetensors (every key of timm's state dict, f32)."""
    from safetensors.numpy import save_file
    keys = json.loads((ROOT / "Tests/Fixtures/seeded" / f"{SEEDED}.keys.json").read_text())["keys"]
    save_file({k: np.ascontiguousarray(seeded_value_numpy(k, s), dtype=np.float32) for k, s in keys.items()}, str(path))


def cell(f):
    return f"{f['mean_cosine']:.5f} ({f['min_cosine']:.4f})"


def measure(eamc, work: Path, checkpoint: Path, label: str):
    """Calibrates `checkpoint` once and compiles every setting: rows and the 20% frozen fraction per block."""
    stats = work / f"{label}.eamstats"
    t0 = time.time()
    subprocess.run([eamc, "calibrate", str(checkpoint), "--calib", str(work / "calib"), "-o", str(stats)],
                   check=True, stdout=subprocess.DEVNULL)
    calib_s = time.time() - t0
    rows, blocks = [], None
    for s, b in SETTINGS:
        out = work / f"{label}-s{s}-b{b}.eam"
        run = subprocess.run([eamc, "compile", str(checkpoint), "-o", str(out), "--stats", str(stats), "--sparsity", str(s),
                              "--attn-bits", str(b), "--eval", str(work / "eval")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            sys.exit(f"{label} {s} {b} bits: " + run.stderr.strip().splitlines()[-1])
        r = json.loads(out.with_suffix(".report.json").read_text())
        out.unlink()
        f = r["fidelity"]
        rows.append((s, b, f["eam"], f["control_std"], f["control_random"]))
        if (s, b) == (0.2, 2):
            blocks = [sum(h) / len(h) for h in r["frozen_fraction"]]
        print(f"{label} {s:.0%} {b} bits: entropy {f['eam']['mean_cosine']:.5f} std {f['control_std']['mean_cosine']:.5f} "
              f"random {f['control_random']['mean_cosine']:.5f}", flush=True)
    return rows, blocks, calib_s, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eamc", default=str(ROOT / ".build/release/eamc"))
    args = ap.parse_args()
    if not IMAGES.exists():
        sys.exit(f"{IMAGES}: not found (the real images live in ../shared)")
    with tempfile.TemporaryDirectory(prefix="eamc-fidelity-swin-") as tmp:
        work = Path(tmp)
        n_calib, n_eval = split(work)
        seeded = work / f"{SEEDED}.safetensors"
        write_seeded(seeded)
        results = [("Swin-T, seeded weights (224)", *measure(args.eamc, work, seeded, "swin_t")),
                   ("small Swin fixture (224)", *measure(args.eamc, work, SMALL, "swin_small"))]

    text = ("Swin's frozen maps: one w²×w² map per (block, head), shared by every window of the head "
            "(schemas/FORMAT.md, \"Frozen attention maps\"). No trained Swin weights are at hand: Swin-T "
            f"(timm `{SEEDED}`) with the seeded weights of Tests/Fixtures/seeded/SEEDED_WEIGHTS.md, and the small "
            "committed Swin fixture (embed 32, depths 2-2, window 4, weights drawn by scripts/make_model_fixtures.py; run at image 224: grids 56 and 28). Neither has learnt "
            "attention, so these figures test the machinery, not the method. Calibrated on "
            f"{n_calib} real images of `../shared/images/calib`, evaluated on the other {n_eval} (every 4th file by "
            "name). Cosine of the output to the float model's, mean over the held-out images (min in brackets). "
            "Selection `entropy` (the paper's; weighted entropy's output sensitivity is measured for the ViT family "
            "only), global budget, frozen value `median`, entropy resolution 1/128; the controls use the same frozen "
            "values and bits. Written by `scripts/fidelity_swin.py` (`make fidelity`).\n\n")
    for label, rows, blocks, calib_s, total_s in results:
        text += (f"**{label}** (wall time on a shared 2-core machine: calibration {calib_s:.0f} s, all settings {total_s:.0f} s):\n\n"
                 "| sparsity | attn bits | entropy | std control | random control |\n|---:|---:|---:|---:|---:|\n")
        for s, b, e, sd, rnd in rows:
            text += f"| {s:.0%} | {b} | {cell(e)} | {cell(sd)} | {cell(rnd)} |\n"
        text += ("\nFrozen fraction per block at 20%, 2 bits: " + " ".join(f"{x:.3f}" for x in blocks) + ".\n\n")
    publish("fidelity-swin", "FIDELITY_SWIN.md", "EAM fidelity: Swin", text)
    print(text)


if __name__ == "__main__":
    main()
