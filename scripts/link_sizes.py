#!/usr/bin/env python3
"""Bytes each part of the runtime adds to a linked program, from an lld map file (-Wl,-Map=...):
code (.text) and constant data (.rodata, .data.rel.ro) of the Swift core with the C API, of the
C kernels, of the Swift standard library's Unicode tables, and of everything else (libc)."""
import re
import sys
from collections import Counter

parts = Counter()
for line in open(sys.argv[1]):
    m = re.match(r"\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+(\S+)\(([^)]*)\):\((\.[a-z._]+)", line)
    if not m:
        continue
    size, archive, member, section = int(m.group(1), 16), m.group(2), m.group(3), m.group(4)
    if not (section.startswith(".text") or section.startswith(".rodata") or section.startswith(".data.rel.ro")):
        continue
    kind = "code" if section.startswith(".text") else "constants"
    if "libeamrt" not in archive:
        group = "libc and the rest"
    elif member.startswith("kernel_"):
        group = "C kernels"
    elif member.endswith(".cpp.o"):
        group = "Unicode tables"
    else:
        group = "core (Swift runtime core with the stdlib parts it uses, C API, platform)"
    parts[(group, kind)] += size
for group in sorted({g for g, _ in parts}):
    print(f"{group}: {parts[(group, 'code')]} bytes of code, {parts[(group, 'constants')]} of constants")
