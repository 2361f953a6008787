#!/usr/bin/env bash
# Links a C program against the C API's static library of one target (device_build.sh's output):
#   capi_link.sh TARGET OUTPUT SOURCE.c [--count-allocations]
# Static for aarch64-linux (clang + lld: GNU ld refuses Embedded Swift's protected symbols);
# against the system's libzstd for x86_64-linux. --count-allocations wraps malloc and friends
# (Tests/capi/capi_test.c counts them).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1 output=$2 source=$3
out=.build-device/$target
flags=(-O2 -Wall -Wno-unused-function -I "$out/include" -I examples/c -fuse-ld=lld -Wl,--gc-sections)
[ "${4:-}" = --count-allocations ] && flags+=(-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc)
case "$target" in
  x86_64-linux)
    clang "${flags[@]}" --target=x86_64-linux-gnu "$source" "$out/libeamrt.a" -lzstd -lpthread -lm -o "$output" ;;
  aarch64-linux)
    clang "${flags[@]}" --target=aarch64-linux-gnu -static "$source" "$out/libeamrt-aarch64.a" -lpthread -lm -o "$output" ;;
  *) echo "capi_link.sh: unknown target '$target'" >&2; exit 2 ;;
esac
