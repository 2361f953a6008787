#!/usr/bin/env python3
"""Runs a command and reports its wall time, peak resident set and peak address space.

Peak RSS is the kernel's own maximum (`ru_maxrss` of wait4, what `/usr/bin/time -v` prints as
"Maximum resident set size"); the peak address space is `VmPeak` of /proc/PID/status, sampled
every 10 ms until the process exits (a high-water mark, so the last sample is the peak up to
10 ms before exit). Standard library only; Linux.

    python3 scripts/peak_memory.py -- .build/release/eamc calibrate model.pth --calib imgs -o x.eamstats

Prints one JSON line on stdout: {"seconds", "cpu_seconds" (user + system, less sensitive than
wall time to other processes on a shared machine), "peak_rss_bytes", "peak_vm_bytes",
"status"}; the command's own output goes to stderr.
"""
import json
import os
import subprocess
import sys
import time


def vm_peak(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main():
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: peak_memory.py -- COMMAND [ARG...]")
    start = time.monotonic()
    p = subprocess.Popen(args, stdout=sys.stderr)
    peak_vm = 0
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        v = vm_peak(p.pid)
        if v:
            peak_vm = max(peak_vm, v)
        time.sleep(0.01)
    seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_bytes": usage.ru_maxrss * 1024,
                      "peak_vm_bytes": peak_vm, "status": code}))
    sys.exit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()
