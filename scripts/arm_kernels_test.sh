#!/usr/bin/env bash
# Builds the C kernels (Sources/CEAMKernels/*.c) and Tests/arm/kernels_test.c for aarch64 Linux
# (static; the Swift toolchain's clang and lld, else Debian's clang), runs the test under
# qemu-aarch64 with -cpu max (dot product: the sdot int8 path) and -cpu cortex-a53 (no dot
# product: portable int8), and prints the size of the kernel objects. Fails on any warning
# (-Wall -Werror), build error or difference from the portable variant.
set -euo pipefail
cd "$(dirname "$0")/.."
cc=""
for c in /opt/swift/usr/bin/clang "$(command -v clang || true)"; do
  if [ -n "$c" ] && [ -x "$c" ]; then cc=$c; break; fi
done
[ -n "$cc" ] || { echo "arm_kernels_test: no clang found" >&2; exit 1; }
ld=lld
[ -x "$(dirname "$cc")/ld.lld" ] || command -v ld.lld >/dev/null || { echo "arm_kernels_test: no ld.lld found" >&2; exit 1; }
command -v qemu-aarch64 >/dev/null || { echo "arm_kernels_test: qemu-aarch64 not installed (apt-get install qemu-user)" >&2; exit 1; }
[ -d /usr/aarch64-linux-gnu/include ] || { echo "arm_kernels_test: no aarch64 libc headers (apt-get install libc6-dev-arm64-cross libgcc-12-dev-arm64-cross)" >&2; exit 1; }

out=.build-arm/kernels
rm -rf "$out" && mkdir -p "$out"
# The package's kernel flags (Package.swift), for the baseline armv8-a.
flags=(--target=aarch64-linux-gnu -O3 -fno-math-errno -ffp-contract=off -Wall -Werror -I Sources/CEAMKernels/include)
objs=()
for f in Sources/CEAMKernels/*.c; do
  o="$out/$(basename "${f%.c}").o"
  "$cc" "${flags[@]}" -c "$f" -o "$o"
  objs+=("$o")
done
"$cc" "${flags[@]}" -c Tests/arm/kernels_test.c -o "$out/kernels_test.o"
"$cc" --target=aarch64-linux-gnu -static -fuse-ld="$ld" "$out/kernels_test.o" "${objs[@]}" -lm -o "$out/kernels_test"

# .text of the kernel objects (llvm-size if present, else binutils' size for aarch64 ELF).
size_tool=$(command -v llvm-size || true)
[ -n "$size_tool" ] || [ ! -x "$(dirname "$cc")/llvm-size" ] || size_tool="$(dirname "$cc")/llvm-size"
[ -n "$size_tool" ] || size_tool=$(command -v size || true)
if [ -n "$size_tool" ]; then
  "$size_tool" "${objs[@]}" | awk 'NR == 1 { next } { text += $1; n = split($NF, p, "/"); if ($1 > 0) printf "  %-22s %7d bytes .text\n", p[n], $1 }
    END { printf "kernel objects: %d bytes of .text in total\n", text }'
else
  echo "kernel objects: $(du -cb "${objs[@]}" | tail -1 | cut -f1) bytes (no size tool for .text)"
fi

status=0
for cpu in max cortex-a53; do
  echo "== qemu-aarch64 -cpu $cpu"
  qemu-aarch64 -cpu "$cpu" "$out/kernels_test" || status=1
done
[ $status -eq 0 ] && echo "arm kernels: ok" || echo "arm kernels: FAILED"
exit $status
