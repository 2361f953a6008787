#!/usr/bin/env python3
"""Peak memory and wall time of `eamc calibrate` on the real DINOv2-S/14 at several image sizes,
unbounded (the default budget) against `--memory-budget`, and whether the `.eamstats` are
byte-identical. Prints a Markdown table (docs/CALIBRATION.md, "Memory budget").

Each size's checkpoint comes from scripts/resize_pos_embed.py (eamc does not resize a ViT's
position embedding). Images: the first N of ../shared/images/calib by name. Numpy (for the
resize) and the standard library.

    python3 scripts/calibration_memory.py --eamc .build/release/eamc --sizes 224 448 518 --images 8 --budget 4G
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models/dinov2_vits14_224.pth"
IMAGES = SHARED / "images/calib"


def measure(cmd):
    out = subprocess.run([sys.executable, str(ROOT / "scripts/peak_memory.py"), "--"] + cmd,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["log"] = out.stderr.strip()
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--eamc", default=str(ROOT / ".build/release/eamc"))
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 448, 518])
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--budget", default="4G")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    gib = float(1 << 30)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "images"
        folder.mkdir()
        names = sorted(n for n in os.listdir(IMAGES) if n.lower().endswith((".jpg", ".jpeg", ".png")))
        for n in names[: a.images]:
            (folder / n).symlink_to(IMAGES / n)
        print(f"| px | tokens | images | budget | passes (blocks) | peak RSS | planned | peak address space | wall s | CPU s | .eamstats |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for size in a.sizes:
            ckpt = tmp / f"dinov2_{size}.safetensors"
            subprocess.run([sys.executable, str(ROOT / "scripts/resize_pos_embed.py"), str(MODEL), str(size), str(ckpt)],
                           check=True, stdout=subprocess.DEVNULL)
            digests = {}
            for budget in [None, a.budget]:
                out = tmp / f"{size}-{budget}.eamstats"
                cmd = [a.eamc, "calibrate", str(ckpt), "--calib", str(folder), "-o", str(out),
                       "--threads", str(a.threads)] + (["--memory-budget", budget] if budget else [])
                r = measure(cmd)
                if r["status"] != 0:
                    print(f"| {size} | | {a.images} | {budget or 'default'} | failed: {r['log'][-200:]} |")
                    continue
                digests[budget] = hashlib.sha256(out.read_bytes()).hexdigest()
                passes, planned = "1", ""
                for line in r["log"].splitlines():
                    if "passes over the images, blocks" in line:
                        passes = line.split("calibrating in ")[1].split(" passes")[0] + " (" + \
                            line.split("blocks ")[1].split(", to fit")[0] + ")"
                    if "planned memory" in line:
                        planned = line.split("planned memory ")[1].split(" of ")[0]
                tokens = (size // 14) ** 2 + 1
                same = "same" if budget and digests.get(None) == digests[budget] else ("" if not budget else "DIFFERENT")
                size_text = same or f"{out.stat().st_size / (1 << 20):.0f} MiB"
                print(f"| {size} | {tokens} | {a.images} | {budget or 'default'} | {passes} | {r['peak_rss_bytes'] / gib:.2f} GiB | "
                      f"{planned} | {r['peak_vm_bytes'] / gib:.2f} GiB | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
                      f"{size_text} |", flush=True)
                out.unlink()


if __name__ == "__main__":
    main()
