#!/usr/bin/env bash
# Compiles the runtime core (EAMKernels, EAMPlatform, EAMFormat, EAMRuntimeCore) as Embedded Swift
# for each target given (default: aarch64-none-none-elf and x86_64-unknown-linux-gnu): no
# Foundation, no existentials, no full Swift runtime. Objects only, no linking (make arm-test links).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-none-none-elf x86_64-unknown-linux-gnu)
for target in "${targets[@]}"; do
  out=.build-embedded/$target
  rm -rf "$out" && mkdir -p "$out"
  # C modules: the kernels' and the platform shim's module maps, libzstd's header (decompression).
  # Bare-metal targets see only the compiler's freestanding headers and zstd's own.
  mkdir -p "$out/include"
  ln -sf /usr/include/zstd.h /usr/include/zstd_errors.h "$out/include/"
  cflags=(-I Sources/CEAMKernels/include -I Sources/CEAMPlatform/include -I Sources/CZstd -Xcc -I"$out/include")
  case "$target" in *-none-*) cflags+=(-Xcc -ffreestanding) ;; esac
  start=$(date +%s.%N)
  for module in EAMKernels EAMPlatform EAMFormat EAMRuntimeCore; do
    mapfile -t files < <(find "Sources/$module" -name '*.swift' | sort)
    swiftc -target "$target" -enable-experimental-feature Embedded -wmo -parse-as-library -Osize \
      -warnings-as-errors -module-name "$module" -emit-module -emit-module-path "$out/$module.swiftmodule" -I "$out" \
      "${cflags[@]}" -c "${files[@]}" -o "$out/$module.o"
  done
  end=$(date +%s.%N)
  size=$(du -cb "$out"/*.o | tail -1 | cut -f1)
  printf 'embedded %-26s ok: 4 modules, %s bytes of objects, %.1f s\n' "$target" "$size" "$(echo "$end - $start" | bc)"
done
