#!/usr/bin/env bash
# Builds the runtime behind the C API (Sources/EAMRuntimeC/include/eam.h) as a static library
# for one target, from the runtime core compiled as Embedded Swift (no Foundation, no full Swift
# runtime) and the C kernels:
#   x86_64-linux   the core as x86_64-unknown-linux-gnu (POSIX files and threads), libzstd from
#                  the system; libeamrt.a and libeamrt.so
#   aarch64-linux  the core as aarch64-none-none-elf with the platform functions of
#                  platform_posix.c (threads, clock), no zstd (artifacts compiled with
#                  --device-layout); libeamrt-aarch64.a, for a static Linux program
# Output in .build-device/TARGET: the library, include/eam.h, objects, sizes.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: device_build.sh x86_64-linux|aarch64-linux}
out=.build-device/$target
rm -rf "$out" && mkdir -p "$out/obj" "$out/include" "$out/modules"
clang=$(command -v clang)
case "$target" in
  x86_64-linux)
    swift_target=x86_64-unknown-linux-gnu
    ctarget=(--target=x86_64-linux-gnu -fPIC)
    lib=libeamrt.a
    zstd=1
    ;;
  aarch64-linux)
    swift_target=aarch64-none-none-elf
    ctarget=(--target=aarch64-linux-gnu)
    lib=libeamrt-aarch64.a
    zstd=0
    ;;
  *) echo "device_build.sh: unknown target '$target' (x86_64-linux or aarch64-linux)" >&2; exit 2 ;;
esac

# C modules the Swift core imports: kernels, platform, the C API's header; zstd's where it is used.
ln -sf "$PWD/Sources/CEAMKernels/include" "$out/modules/CEAMKernels"
modules=(-I Sources/CEAMKernels/include -I Sources/CEAMPlatform/include -I Sources/EAMRuntimeC/include)
if [ "$zstd" = 1 ]; then
  modules+=(-I Sources/CZstd)
fi
cflags=(-O3 -fno-math-errno -ffp-contract=off -ffunction-sections -fdata-sections -Wall "${ctarget[@]}")
for f in Sources/CEAMKernels/*.c; do
  "$clang" "${cflags[@]}" -I Sources/CEAMKernels/include -c "$f" -o "$out/obj/kernel_$(basename "$f" .c).o"
done
"$clang" "${cflags[@]}" -I Sources/EAMRuntimeC/include -I Sources/CEAMKernels/include -c Sources/EAMRuntimeC/eam.c -o "$out/obj/capi_eam.o"
if [ "$swift_target" = aarch64-none-none-elf ]; then
  "$clang" "${cflags[@]}" -I Sources/CEAMPlatform/include -c Sources/EAMRuntimeC/platform_posix.c -o "$out/obj/platform_posix.o"
fi

swiftflags=(-target "$swift_target" -enable-experimental-feature Embedded -wmo -parse-as-library ${EAM_SWIFT_OPT:--O}
            -Xfrontend -function-sections -Xcc -ffunction-sections -warnings-as-errors ${EAM_SWIFT_DEBUG:+-g})
[ "$target" = x86_64-linux ] && swiftflags+=(-Xcc -fPIC)
case "$swift_target" in *-none-*) swiftflags+=(-Xcc -ffreestanding) ;; esac
for module in EAMKernels EAMPlatform EAMFormat EAMRuntimeCore EAMRuntimeC; do
  mapfile -t files < <(find "Sources/$module" -name '*.swift' | sort)
  swiftc "${swiftflags[@]}" -module-name "$module" -emit-module -emit-module-path "$out/$module.swiftmodule" \
    -I "$out" "${modules[@]}" -c "${files[@]}" -o "$out/obj/swift_$module.o"
done

# The Embedded Swift standard library's Unicode tables (String comparison and hashing) go into
# the archive, so that a program links one library.
tables=$(dirname "$(command -v swiftc)")/../lib/swift/embedded/$swift_target/libswiftUnicodeDataTables.a
mkdir -p "$out/obj/unicode" && (cd "$out/obj/unicode" && ar x "$tables")
rm -f "$out/$lib"
# Embedded Swift compiles what a module uses of the modules below it into the module itself, so
# the C API's object holds the whole core: the others are not archived.
objects=("$out"/obj/kernel_*.o "$out"/obj/capi_eam.o "$out"/obj/swift_EAMRuntimeC.o "$out"/obj/unicode/*.o)
[ -f "$out/obj/platform_posix.o" ] && objects+=("$out/obj/platform_posix.o")
ar rcs "$out/$lib" "${objects[@]}"
cp Sources/EAMRuntimeC/include/eam.h "$out/include/"
if [ "$target" = x86_64-linux ]; then
  "$clang" -shared -fuse-ld=lld -Wl,--gc-sections -o "$out/libeamrt.so" -Wl,--whole-archive "$out/$lib" -Wl,--no-whole-archive \
    -lzstd -lpthread -lm
fi
echo "built $out/$lib"
