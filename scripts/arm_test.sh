#!/usr/bin/env bash
# The C API on 64-bit Arm under emulation, against the x86-64 runtime:
#   arm_test.sh small   small models (f32, EAM 30%, int8; hallucinated heads + compact FFN +
#                       int4), for make test
#   arm_test.sh full    the bundled DINOv2-S/14 (f32, EAM 20% and int8), for make arm-test
# Builds both static libraries (scripts/device_build.sh) and the kernels' own test, compiles the
# artifacts with --device-layout (the aarch64 build has no zstd), runs each through the x86-64
# C API (examples/c/classify.c) for the reference, then Tests/capi/capi_test.c and classify
# under qemu-aarch64 (-cpu max: NEON + sdot; -cpu cortex-a53: NEON, portable int8). f32 and EAM
# must reach cosine 0.99999, int8 0.999 (they are bit-identical today; the check says so).
# Prints the library's size, what the core, the kernels and libc add to a linked program, and the
# arena and planned memory.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-small}
BIN=${BIN:-.build/release}
eamc=$BIN/eamc
[ -x "$eamc" ] || { echo "arm_test: $eamc not built (swift build -c release --product eamc)" >&2; exit 1; }
for t in x86_64-linux aarch64-linux; do
  [ -f .build-device/$t/stamp ] && [ -z "$(find Sources/EAMKernels Sources/CEAMKernels Sources/EAMPlatform Sources/CEAMPlatform Sources/EAMFormat Sources/EAMRuntimeCore Sources/EAMRuntimeC scripts/device_build.sh -newer .build-device/$t/stamp -print -quit)" ] \
    || { scripts/device_build.sh $t && touch .build-device/$t/stamp; }
done
scripts/arm_kernels_test.sh
x86=.build-device/x86_64-linux arm=.build-device/aarch64-linux
scripts/capi_link.sh x86_64-linux $x86/classify examples/c/classify.c
scripts/capi_link.sh aarch64-linux $arm/classify examples/c/classify.c
scripts/capi_link.sh aarch64-linux $arm/capi_test Tests/capi/capi_test.c --count-allocations

work=$(mktemp -d /tmp/eamc-arm.XXXXXX)
trap 'rm -rf "$work"' EXIT
# name | checkpoint | input | compile flags (all with --device-layout) | cosine to the x86-64 outputs
calib=examples/images/calib
if [ "$mode" = full ]; then
  m=examples/models/dinov2_vits14_224.fp16.safetensors x=Tests/Fixtures/seeded/input_2x3x224x224.npy
  runs=("f32|$m|$x||0.99999" "eam20|$m|$x|--calib $calib --sparsity 0.2 --attn-bits 2|0.99999" "int8|$m|$x|--weights int8|0.999")
else
  m=Tests/Fixtures/models/vit_tiny.safetensors x=Tests/Fixtures/models/vit_tiny.input.npy
  d=Tests/Fixtures/models/deit_tiny.safetensors dx=Tests/Fixtures/models/deit_tiny.input.npy
  runs=("f32|$m|$x||0.99999" "eam30|$m|$x|--calib $calib --sparsity 0.3 --attn-bits 2|0.99999" "int8|$m|$x|--weights int8|0.999"
        "passes|$d|$dx|--heads 4 --calib $calib --hallucinate-heads 0.5 --compact-ffn 0.5 --weights int4|0.99999"
        "swin-int8|Tests/Fixtures/models/swin_tiny.safetensors|Tests/Fixtures/models/swin_tiny.input.npy|--image-size 64 --weights int8|0.999")
fi
failed=0
for run in "${runs[@]}"; do
  IFS='|' read -r name model input flags tolerance <<< "$run"
  a=$work/$name.eam
  # shellcheck disable=SC2086
  "$eamc" compile "$model" -o "$a" --device-layout $flags -q
  $x86/classify "$a" "$input" "$work/$name.x86.npy" > /dev/null
  # Which CPU only changes the int8 path (sdot or portable): the other artifacts run on -cpu
  # cortex-a53 too in small mode, on -cpu max alone with the full model (each run there takes
  # minutes under emulation).
  cpus=(max cortex-a53)
  [ "$mode" = full ] && [ "$name" != int8 ] && cpus=(max)
  for cpu in "${cpus[@]}"; do
    echo "== $name ($flags) on qemu-aarch64 -cpu $cpu against the x86-64 C API's outputs (cosine ≥ $tolerance)"
    if ! qemu-aarch64 -cpu $cpu $arm/capi_test "$a" "$input" "$work/$name.x86.npy" "$tolerance" | grep -v "^ok   \(api version\|NULL\|max_batch\|batch over\|output too\|load_memory (one\)"; then
      failed=1
    fi
  done
done
names=(f32 "${runs[1]%%|*}")
echo "== classify on aarch64 (${names[1]})"
qemu-aarch64 $arm/classify "$work/${names[1]}.eam" "$x" | head -8

# What each part adds to a linked program (lld's map of classify): the core is the one Swift
# object (Embedded Swift compiles what it uses of the other modules into it).
clang --target=aarch64-linux-gnu -O2 -static -fuse-ld=lld -Wl,--gc-sections -Wl,-Map="$work/classify.map" \
  -I $arm/include -I examples/c examples/c/classify.c $arm/libeamrt-aarch64.a -lpthread -lm -o "$work/classify"
echo "aarch64 sizes: libeamrt-aarch64.a $(stat -c %s $arm/libeamrt-aarch64.a) bytes; classify (static, with libc) $(stat -c %s "$work/classify") bytes, of which"
python3 scripts/link_sizes.py "$work/classify.map" | sed 's/^/  /'
qemu-aarch64 $arm/classify "$work/f32.eam" "$x" | sed -n 's/^memory: /  f32 model: /p'
[ $failed = 0 ] && echo "arm test ($mode): passed" || { echo "arm test ($mode): FAILED"; exit 1; }
