#!/usr/bin/env python3
"""Runtime fixtures: committed `.eam` artifacts and the runtime's exact outputs on them.

Builds the release `eamc` and `eam-run`, compiles the small models of Tests/Fixtures/models (f32,
some f16, EAM with frozen maps calibrated on examples/images/calib, a calibrated Swin) into
Tests/Fixtures/runtime/NAME.eam, and records for each artifact the runtime's output on the
fixture's committed input, float32 bit for bit (NAME.out.npy): one output for every kernel variant.
It runs every variant this CPU supports (EAM_KERNELS=scalar|avx2|avx512) and fails if two give
different bytes; index.json maps each variant to that one file. The real DINOv2-S/14 of ../shared and the bundled
fp16 example are compiled in a temporary folder only: their artifacts' SHA-256 and their outputs
are committed, not the 88 MB artifacts. Everything is listed in Tests/Fixtures/runtime/index.json,
which the Swift tests read.

Regenerate only when the format or the numbers are meant to change (`make runtime-fixtures`);
`--check` regenerates into a temporary folder and compares every file byte for byte.
Python standard library only.

    python3 scripts/make_runtime_fixtures.py [--check] [--no-build]
"""
import argparse
import filecmp
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests/Fixtures"
OUT = FIXTURES / "runtime"
BIN = ROOT / ".build/release"
SHARED_MODEL = ROOT.parent / "shared/models/dinov2_vits14_224.pth"
EXAMPLE_MODEL = ROOT / "examples/models/dinov2_vits14_224.fp16.safetensors"
CALIB = "examples/images/calib"

VIT_FAMILY = ["vit_tiny", "vit_gap", "vit_features", "deit_tiny", "deit_distilled", "dinov2_small",
              "dinov2_reg", "lambda_vit_shrunk", "hf_vit", "hf_dinov2"]
SWIN = "swin_tiny"
F16 = ["vit_tiny", "dinov2_small", "deit_distilled", SWIN]
# (model, tag, sparsity): 30% leaves every head partly free; at 98% block 0 has one whole-frozen
# head beside a partly frozen one; Swin at 0% is a calibrated compile (frozen windows are refused).
# Plain entropy: these artifacts test the runtime's frozen maps, and that layout is what the tests
# need (weighted entropy freezes this 2-block model's last block first, which its output never reads).
CALIBRATED = [("dinov2_small", "eam30", 0.3), ("dinov2_small", "eam98", 0.98), (SWIN, "calib", 0.0)]
ATTN_BITS = 2
SELECT = "entropy"


def fail(message):
    sys.exit(f"make_runtime_fixtures: error: {message}")


def supported_variants():
    """The kernel variants this CPU runs, by the test dispatch.c makes (Linux flags)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return ["scalar"]
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    variants = ["scalar"]
    if {"avx2", "fma"} <= flags:
        variants.append("avx2")
    if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= flags:
        variants.append("avx512")
    return variants


def fixture_meta(name):
    return json.loads((FIXTURES / f"models/{name}.json").read_text())


def heads_of(meta):
    """Heads per block as the reference was built (ViT family); Swin records them itself."""
    h = meta.get("timm_kwargs", {}).get("num_heads")
    if isinstance(h, int):
        return h
    h = meta.get("hf_config", {}).get("num_attention_heads")
    return h if isinstance(h, int) else None


def small_specs():
    """Every committed artifact: how it is compiled and what it is checked against."""
    specs = []

    def spec(name, tag, weights, calibration=None):
        meta = fixture_meta(name)
        s = {
            "artifact": f"{name}{tag}.eam",
            "model": name,
            "checkpoint": f"Tests/Fixtures/models/{name}.safetensors",
            "weights": weights,
            "input": f"Tests/Fixtures/models/{name}.input.npy",
        }
        if name == SWIN:
            s["image_size"] = meta["timm_kwargs"]["img_size"]
        else:
            s["heads"] = heads_of(meta)
            if s["heads"] is None:
                fail(f"{name}.json: no head count")
        if calibration is None:
            s["reference"] = f"Tests/Fixtures/models/{name}.output.npy"
        else:
            s["calibration"] = calibration
        return s

    for name in VIT_FAMILY + [SWIN]:
        specs.append(spec(name, "", "f32"))
    for name in F16:
        specs.append(spec(name, ".f16", "f16"))
    for name, tag, sparsity in CALIBRATED:
        specs.append(spec(name, "." + tag, "f32", {"images": CALIB, "sparsity": sparsity, "attn_bits": ATTN_BITS,
                                                           "select": SELECT}))
    return specs


def compile_args(s):
    args = [str(ROOT / s["checkpoint"]), "--weights", s["weights"]]
    if "heads" in s:
        args += ["--heads", str(s["heads"])]
    if "image_size" in s:
        args += ["--image-size", str(s["image_size"])]
    if "calibration" in s:
        c = s["calibration"]
        args += ["--calib", str(ROOT / c["images"]), "--sparsity", str(c["sparsity"]), "--attn-bits", str(c["attn_bits"]),
                 "--select", c["select"]]
    return args


def run(cmd, variant=None):
    env = dict(os.environ)
    if variant:
        env["EAM_KERNELS"] = variant
    r = subprocess.run([str(c) for c in cmd], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(str(c) for c in cmd)}: {r.stderr.strip()}")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def output_name(stem):
    return f"{stem}.out.npy"


def record_output(cmd_for, dest, stem, variants, work):
    """Runs cmd_for(path) under every variant into the work folder, requires the same bytes from
    each and keeps one copy as dest/STEM.out.npy. Returns the index's variant → file map."""
    first = None
    for v in variants:
        out = work / f"{stem}.out.{v}.npy"
        run(cmd_for(out), variant=v)
        if first is None:
            first = out
        elif not filecmp.cmp(first, out, shallow=False):
            fail(f"{stem}: the {v} kernels give another output than {variants[0]} (kernel variants must agree bit for bit)")
    shutil.copyfile(first, dest / output_name(stem))
    return {v: output_name(stem) for v in variants}


def generate(dest, variants, with_real, work):
    """Writes every artifact, output and index.json into `dest`."""
    eamc, eam_run = BIN / "eamc", BIN / "eam-run"
    index = {"generator": "scripts/make_runtime_fixtures.py", "variants": variants, "artifacts": [], "large": []}
    for s in small_specs():
        path = dest / s["artifact"]
        # The report beside a calibrated artifact carries timings: it goes to the work folder.
        report = ["--report", work / (s["artifact"] + ".report.json")] if "calibration" in s else []
        run([eamc, "compile", *compile_args(s), "-o", path, *report])
        stem = s["artifact"][:-len(".eam")]
        s["outputs"] = record_output(lambda out: [eam_run, path, ROOT / s["input"], out, "--threads", "1"],
                                     dest, stem, variants, work)
        s["bytes"] = path.stat().st_size
        s["sha256"] = sha256(path)
        index["artifacts"].append(s)
        print(f"  {s['artifact']}: {s['bytes']} bytes")

    # Large models: compiled here, only their hash and outputs are committed.
    large = []
    if with_real:
        large.append({"name": "real_dinov2", "checkpoint": "../shared/models/dinov2_vits14_224.pth", "weights": "f32",
                      "input": "Tests/Fixtures/seeded/input_2x3x224x224.npy", "needs_shared": True})
    large.append({"name": "example_dinov2", "checkpoint": "examples/models/dinov2_vits14_224.fp16.safetensors",
                  "weights": "f32", "images": "examples/reference/eval_files.txt"})
    for s in large:
        path = work / f"{s['name']}.eam"
        run([eamc, "compile", ROOT / s["checkpoint"], "--weights", s["weights"], "-o", path])
        s["bytes"] = path.stat().st_size
        s["sha256"] = sha256(path)
        if "input" in s:
            cmd_for = lambda out: [eam_run, path, ROOT / s["input"], out, "--threads", "1"]
        else:
            files = [ROOT / "examples" / line for line in (ROOT / s["images"]).read_text().split("\n") if line]
            cmd_for = lambda out: [eamc, "run", path, "--image", *files, "--output", out, "--threads", "1"]
        s["outputs"] = record_output(cmd_for, dest, s["name"], variants, work)
        path.unlink()
        index["large"].append(s)
        print(f"  {s['name']}: {s['bytes']} bytes (not committed), sha256 {s['sha256'][:16]}…")
    (dest / "index.json").write_text(json.dumps(index, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temporary folder and compare")
    parser.add_argument("--no-build", action="store_true", help="use the release eamc and eam-run as they are")
    a = parser.parse_args()
    if not a.no_build:
        for product in ("eamc", "eam-run"):
            run(["swift", "build", "-c", "release", "--product", product])
    variants = supported_variants()
    if variants != ["scalar", "avx2", "avx512"] and platform.machine() in ("x86_64", "AMD64"):
        print(f"warning: this CPU runs only {', '.join(variants)}: the outputs of the other variants are not recorded")
    with_real = SHARED_MODEL.exists()
    if not with_real and not a.check:
        fail(f"{SHARED_MODEL} is missing: the real model's outputs cannot be regenerated")

    with tempfile.TemporaryDirectory(prefix="eamc-runtime-fixtures-") as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        if not a.check:
            if OUT.exists():
                shutil.rmtree(OUT)
            OUT.mkdir(parents=True)
            generate(OUT, variants, with_real, work)
            total = sum(p.stat().st_size for p in OUT.iterdir())
            print(f"wrote {OUT.relative_to(ROOT)}: {len(list(OUT.iterdir()))} files, {total} bytes")
            return
        fresh = tmp / "fresh"
        fresh.mkdir()
        generate(fresh, variants, with_real, work)
        committed = json.loads((OUT / "index.json").read_text())
        expected = json.loads((fresh / "index.json").read_text())
        if not with_real:
            print("note: ../shared is missing: the real model is not checked")
            committed["large"] = [s for s in committed["large"] if not s.get("needs_shared")]
        problems = []
        if committed != expected:
            changed = [e.get("artifact", e.get("name")) for kind in ("artifacts", "large")
                       for e in expected[kind] if e not in committed[kind]]
            problems.append("index.json differs from a fresh run (artifact hashes, sizes, variants or specs)"
                            + (f": {', '.join(changed)}" if changed else ""))
        differ = [p.name for p in sorted(fresh.iterdir()) if p.name != "index.json"
                  and not ((OUT / p.name).exists() and filecmp.cmp(p, OUT / p.name, shallow=False))]
        if differ:
            problems.append(f"{len(differ)} file(s) differ from a fresh run: {', '.join(differ)}")
        if problems:
            fail("; ".join(problems))
        print(f"ok: {len(list(fresh.iterdir()))} files in {OUT.relative_to(ROOT)} reproduced byte for byte")


if __name__ == "__main__":
    main()
