#!/usr/bin/env python3
"""Runs every fuzz harness for a set number of executions and writes the table in docs/FUZZING.md.

For each target: `.build-fuzz/release/fuzz-<target>` (built by `make fuzz`) runs libFuzzer on a
working corpus (`.build-fuzz/corpus/<target>`, where new inputs go) plus the committed seeds
(`Fuzz/corpus/<target>`, only read), with `-runs=N`, a per-format `-max_len`, `-timeout=10`
(a hang is a finding), `-use_value_profile=1` and `-rss_limit_mb=2048` (so is an allocation bomb: libFuzzer also stops at
any single malloc above the limit). Findings land in `.build-fuzz/findings/<target>/`.

The rows of the targets run replace theirs in the table between the `fuzz-table` markers of
docs/FUZZING.md (the other rows stay); everything else in the file (the hand-written list of
what was found and fixed) is kept. The last column counts the
`regression-*` inputs committed in each target's corpus: every input that once crashed, hung or
exhausted memory, kept after its fix.

Usage: scripts/fuzz.py [--runs N] [--targets a,b] [--no-table]
Exit status: 1 if any target found something (the table is still written), else 0.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".build-fuzz"
DOC = ROOT / "docs" / "FUZZING.md"
BEGIN, END = "<!-- fuzz-table:begin -->", "<!-- fuzz-table:end -->"

# target -> largest input (bytes): a little above the largest seed, small enough to stay fast.
TARGETS = {
    "pickle": 16384,
    "zip": 16384,
    "torch-legacy": 8192,
    "safetensors": 4096,
    "npy": 4096,
    "jpeg": 16384,
    "png": 16384,
    "eam-header": 32768,
    "eam-manifest": 4096,
    "eamstats": 8192,
    "eam-model": 32768,
    "eam-run-npy": 8192,
    "eam-memory": 32768,
    "eam-manifest-structured": 256,
}


def run_target(target: str, runs: int, max_len: int) -> dict:
    binary = BUILD / "release" / f"fuzz-{target}"
    work = BUILD / "corpus" / target
    findings = BUILD / "findings" / target
    work.mkdir(parents=True, exist_ok=True)
    findings.mkdir(parents=True, exist_ok=True)
    log = BUILD / "logs" / f"{target}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    before = set(findings.iterdir())
    command = [str(binary), f"-runs={runs}", f"-max_len={max_len}", "-timeout=10", "-rss_limit_mb=2048", "-use_value_profile=1",
               "-print_final_stats=1", f"-artifact_prefix={findings}/", str(work), str(ROOT / "Fuzz" / "corpus" / target)]
    start = time.monotonic()
    with open(log, "w") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    seconds = time.monotonic() - start
    text = log.read_text(errors="replace")
    done = re.search(r"Done (\d+) runs", text)
    stat = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    executions = int(done.group(1)) if done else int(stat.group(1)) if stat else 0
    new = sorted(set(findings.iterdir()) - before)
    return {"target": target, "executions": executions, "seconds": seconds, "status": status,
            "findings": [p.name for p in new], "log": log}


def regressions(target: str) -> int:
    return len(list((ROOT / "Fuzz" / "corpus" / target).glob("regression-*")))


def row(r: dict, runs: int) -> str:
    rate = r["executions"] / r["seconds"] if r["seconds"] > 0 else 0
    return (f"| fuzz-{r['target']} | {r['executions']:,} | {r['seconds']:.0f} | {rate:,.0f} | "
            f"{len(r['findings'])} | {regressions(r['target'])} | {time.strftime('%Y-%m-%d')} |")


def table(results: list[dict], runs: int) -> str:
    """The new rows, and for targets not run this time the rows already in the page."""
    old = {}
    doc = DOC.read_text()
    if BEGIN in doc and END in doc:
        for line in doc.split(BEGIN, 1)[1].split(END, 1)[0].splitlines():
            m = re.match(r"\| fuzz-([\w-]+) \|", line)
            if m:
                old[m.group(1)] = line
    new = {r["target"]: row(r, runs) for r in results}
    lines = ["`make fuzz`: one target at a time on a shared 2-core machine, release build with "
             "`-sanitize=fuzzer,address`, `-use_value_profile=1`.", "",
             "| target | executions | seconds | exec/s | findings in the run | found and fixed (regression inputs) | run |",
             "|---|---:|---:|---:|---:|---:|---|"]
    lines += [new.get(t) or old[t] for t in TARGETS if t in new or t in old]
    return "\n".join(lines)


def write_table(text: str) -> None:
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"{DOC}: the {BEGIN} / {END} markers are missing")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--no-table", action="store_true", help="do not touch docs/FUZZING.md")
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        sys.exit(f"unknown fuzz targets: {', '.join(unknown)} (known: {', '.join(TARGETS)})")
    results = []
    for target in targets:
        print(f"fuzz-{target}: {args.runs:,} runs, max_len {TARGETS[target]} ...", flush=True)
        r = run_target(target, args.runs, TARGETS[target])
        results.append(r)
        verdict = "clean" if not r["findings"] and r["status"] == 0 else \
            f"FOUND {', '.join(r['findings']) or 'a failure'} (exit {r['status']}; log {r['log'].relative_to(ROOT)})"
        print(f"  {r['executions']:,} executions in {r['seconds']:.0f} s: {verdict}", flush=True)
    text = table(results, args.runs)
    print(text)
    if not args.no_table:
        write_table(text)
        print(f"wrote the table to {DOC.relative_to(ROOT)}")
    if any(r["findings"] or r["status"] != 0 for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
