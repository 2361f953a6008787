#!/usr/bin/env python3
"""Check that Tests/EAMCompilerTests/SeededWeights.swift reproduces the Python generator bit-exactly.

Compiles the .txt (as a temporary .swift file, outside the repository) with a generated main that
checks, for every tensor of every seeded model, the first 4 values' bit patterns, the last value's
bit pattern and the wrapping sum of all bit patterns against NAME.weights-check.json.
Writes nothing in the repository. Needs `swiftc` on PATH (~20 s per optimisation level).

Run: /work/main/.venv/bin/python scripts/check_seeded_swift_port.py
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDED = ROOT / "Tests" / "Fixtures" / "seeded"


def main() -> int:
    lines = []
    for f in sorted(SEEDED.glob("*.weights-check.json")):
        d = json.loads(f.read_text())
        for t in d["tensors"]:
            f4 = ", ".join("0x" + b for b in t["first4_bits"])
            lines.append(f'check("{t["key"]}", {t["shape"]}, {d["seed"]}, [{f4}], 0x{t["last_bits"]}, '
                         f'0x{t["bits_sum_mod2_64"]})')
    tv = json.loads((SEEDED / "test-vectors.json").read_text())
    main_swift = """var bad = 0
var n = 0
func check(_ k: String, _ shape: [Int], _ seed: UInt64, _ f4: [UInt32], _ last: UInt32, _ sum: UInt64) {
  let v = seededValue(key: k, shape: shape, seed: seed)
  n += 1
  if Array(v.prefix(4).map { $0.bitPattern }) != f4 || v.last!.bitPattern != last || seededBitsSum(v) != sum {
    bad += 1
    print("MISMATCH", k)
  }
}
""" + "\n".join(lines) + f"""
if fnv1a64("") != 0x{tv['fnv1a64']['']} || fnv1a64("a") != 0x{tv['fnv1a64']['a']} {{ bad += 1; print("MISMATCH fnv1a64") }}
var r = SplitMix64(seed: 0)
if [r.next(), r.next(), r.next()] != [{", ".join("0x" + v for v in tv['splitmix64_seed0_first3'])}] {{ bad += 1; print("MISMATCH splitmix64") }}
print("checked", n, "tensors; mismatches:", bad)
if bad != 0 {{ fatalError("Swift port disagrees with the Python generator") }}
"""
    swiftc = shutil.which("swiftc")
    if swiftc is None:
        print("swiftc not found", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as d:
        dp = Path(d)
        shutil.copyfile(ROOT / "Tests" / "EAMCompilerTests" / "SeededWeights.swift", dp / "SeededWeights.swift")
        (dp / "main.swift").write_text(main_swift)
        for opt in ("-O", "-Onone"):
            exe = dp / f"check{opt}"
            subprocess.run([swiftc, opt, "SeededWeights.swift", "main.swift", "-lm", "-o", str(exe)],
                           cwd=d, check=True)
            print(opt, end=": ", flush=True)
            subprocess.run([str(exe)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
