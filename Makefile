# eamc — the two commands a new machine needs: `make demo` and `make test`.
# Each installs what it needs (Debian packages; Python tools in .venv where a step needs them).

SHELL := /bin/bash
APT_PACKAGES := libzstd-dev libprotobuf-c-dev protobuf-c-compiler pkg-config libjpeg62-turbo-dev libpng-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT_RELEASE := swift build -c release
BIN := $(shell pwd)/.build/release
VENV := .venv
PY := $(VENV)/bin/python
OUT := out

.PHONY: all deps build test test-tools c-example arm-test embedded-check demo bench fidelity fidelity-explore passes fixtures schema python-tools clean fuzz fuzz-build fuzz-replay fuzz-seeds sanitize \
  report-test report-screenshot slurm-test k8s-check cli-docs

all: build

## Debian packages the build links against (installed only if missing).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT_RELEASE)

## The test suite. Reads committed fixtures (and ../shared when present); never needs torch.
## The release eamc is built too: the fidelity test calibrates the real DINOv2 with it. The HTML
## report is rendered in headless Chromium, the Slurm job array runs on a one-node Slurm and the
## Kubernetes Jobs are checked (each installs its Debian packages if missing; ~40 s together).
test: deps embedded-check test-tools
	swift build -c release --product eamc
	swift build --build-tests
	EAMC_REPORT_TEST=1 swift test --skip-build
	BIN=$(BIN) scripts/slurm_test.sh
	python3 scripts/check_k8s.py examples/k8s/calibrate-job.yaml
	$(MAKE) --no-print-directory c-example
	BIN=$(BIN) scripts/arm_test.sh small

## Debian packages only the tests need: Chromium (the report test), Slurm and munge, PyYAML, and
## for the aarch64 build under emulation qemu-user with Debian's arm64 libc and libgcc (clang and
## lld come with the Swift toolchain).
ARM_PACKAGES := qemu-user libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
test-tools:
	@missing=$$(for p in chromium slurm-wlm munge python3-yaml $(ARM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## The runtime core (EAMKernels, EAMPlatform, EAMFormat, EAMRuntimeCore) compiled as Embedded
## Swift for aarch64-none-none-elf (no OS) and x86-64 Linux: objects only, warnings are errors.
embedded-check:
	scripts/embedded_check.sh

## The C API (eam.h) on x86-64: the static and shared library from the runtime core as Embedded
## Swift, examples/c/classify.c built with the system's C compiler and run on the bundled model;
## its outputs must equal `eamc run`'s byte for byte; Tests/capi/capi_test.c on runtime fixtures.
CAPI := .build-device/x86_64-linux
# The system C compiler (Debian's cc), else the Swift toolchain's clang.
SYSTEM_CC := $(shell command -v cc || command -v clang)
c-example: deps
	swift build -c release --product eamc
	scripts/device_build.sh x86_64-linux && touch $(CAPI)/stamp
	scripts/capi_link.sh x86_64-linux $(CAPI)/classify examples/c/classify.c
	scripts/capi_link.sh x86_64-linux $(CAPI)/capi_test Tests/capi/capi_test.c --count-allocations
	$(SYSTEM_CC) -O2 -I $(CAPI)/include -I examples/c examples/c/classify.c -L $(CAPI) -l:libeamrt.so -Wl,-rpath,$(CURDIR)/$(CAPI) -lm -o $(CAPI)/classify-shared
	@mkdir -p $(OUT)
	$(BIN)/eamc compile $(MODEL) -o $(OUT)/dinov2_vits14.eam -q
	$(CAPI)/classify $(OUT)/dinov2_vits14.eam Tests/Fixtures/seeded/input_2x3x224x224.npy $(OUT)/c-example.npy
	$(CAPI)/classify-shared $(OUT)/dinov2_vits14.eam Tests/Fixtures/seeded/input_2x3x224x224.npy $(OUT)/c-example-shared.npy > /dev/null
	$(BIN)/eamc run $(OUT)/dinov2_vits14.eam --input Tests/Fixtures/seeded/input_2x3x224x224.npy --output $(OUT)/eamc-run.npy -q
	cmp $(OUT)/c-example.npy $(OUT)/eamc-run.npy && cmp $(OUT)/c-example-shared.npy $(OUT)/eamc-run.npy
	@echo "c-example: the C API's outputs (static and shared library) equal eamc run's byte for byte"
	@for f in vit_tiny deit_distilled dinov2_small.eam30 dinov2_small.f16 swin_tiny; do \
	  input=Tests/Fixtures/models/$${f%%.*}.input.npy; \
	  $(CAPI)/capi_test Tests/Fixtures/runtime/$$f.eam $$input Tests/Fixtures/runtime/$$f.out.npy | tail -1 | grep -q ' 0 failure' \
	    || { $(CAPI)/capi_test Tests/Fixtures/runtime/$$f.eam $$input Tests/Fixtures/runtime/$$f.out.npy; exit 1; }; \
	  echo "capi_test $$f: passed"; \
	done

## The C API on 64-bit Arm under qemu-aarch64 on the bundled DINOv2-S/14 (f32, EAM 20%, int8)
## against the x86-64 outputs; `make test` runs the same on a small model.
arm-test: deps test-tools
	swift build -c release --product eamc
	BIN=$(BIN) scripts/arm_test.sh full

## The main job on the bundled example: compile the bundled DINOv2-S/14 as float, then with EAM
## (calibrated on 12 bundled images, 20% of attention entries frozen in 2 bits), inspect it,
## report its fidelity on the 4 held-out images, run it, and time both (side by side, in alternation).
MODEL := examples/models/dinov2_vits14_224.fp16.safetensors
demo: build
	@mkdir -p $(OUT)
	$(BIN)/eamc compile $(MODEL) -o $(OUT)/dinov2_vits14.eam
	$(BIN)/eamc compile $(MODEL) -o $(OUT)/dinov2_vits14.eam20.eam \
	  --calib examples/images/calib --sparsity 0.2 --attn-bits 2 --eval examples/images/eval
	$(BIN)/eamc inspect $(OUT)/dinov2_vits14.eam20.eam --verify
	$(BIN)/eamc eval $(OUT)/dinov2_vits14.eam20.eam --reference $(MODEL) --images examples/images/eval
	$(BIN)/eamc run $(OUT)/dinov2_vits14.eam20.eam --image examples/images/eval/*.jpg
	$(BIN)/eamc bench $(OUT)/dinov2_vits14.eam20.eam --compare $(OUT)/dinov2_vits14.eam --iters 10

## Python tools for fixtures and benchmarks (torch, timm, onnxruntime; about 6 GB).
python-tools: $(VENV)/.installed
$(VENV)/.installed:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q torch timm onnxruntime onnx pillow safetensors numpy transformers
	touch $@

## Regenerates every committed fixture from the reference implementations.
fixtures: python-tools
	$(PY) scripts/make_model_fixtures.py
	$(PY) scripts/seeded_weights.py
	$(PY) scripts/make_dinov2_fixtures.py
	$(PY) scripts/make_ingest_fixtures.py
	$(PY) scripts/make_image_fixtures.py
	$(PY) scripts/make_imagenet_labels.py

## Regenerates Tests/Fixtures/runtime: the committed .eam artifacts and the runtime's exact output
## of each (one for every kernel variant: the script fails if two variants disagree), which the
## tests hold every later build to, bit for bit. Only when the format or the numbers are meant to change. `python3 scripts/make_runtime_fixtures.py --check` compares.
.PHONY: runtime-fixtures
runtime-fixtures: deps
	python3 scripts/make_runtime_fixtures.py

## eamc against ONNX Runtime and PyTorch, side by side.
bench: build python-tools
	$(PY) scripts/bench.py --eamc $(BIN)/eamc

## The EAM fidelity table (sparsity × bits × selection vs the controls) on held-out real images
## of ../shared: docs/FIDELITY.md and the README. Needs only the release eamc (about 30 minutes: weighted entropy measures the output sensitivity in every compile).
## Then Swin's frozen windows on seeded Swin-T and the small Swin fixture: docs/FIDELITY_SWIN.md (numpy for the seeded weights; about 2 minutes).
fidelity: build python-tools
	python3 scripts/fidelity.py --eamc $(BIN)/eamc
	$(PY) scripts/fidelity_swin.py --eamc $(BIN)/eamc

## Selection criteria compared in a PyTorch model of EAM (docs/FIDELITY_EXPLORE.md; torch, ~10 min).
fidelity-explore: python-tools
	$(PY) scripts/fidelity_explore.py

## Every compression pass alone and combined on the real DINOv2-S/14 (docs/PASSES.md, docs/pareto.svg).
passes: build
	python3 scripts/passes.py --eamc $(BIN)/eamc

## Regenerates the committed protobuf-c code from schemas/eam.proto.
schema: deps
	cd schemas && protoc-c --c_out=../Sources/CEAMFormat eam.proto
	mv Sources/CEAMFormat/eam.pb-c.h Sources/CEAMFormat/include/eam.pb-c.h

## Fuzzing (docs/FUZZING.md): builds every harness under Fuzz/ with libFuzzer and AddressSanitizer
## (the Swift toolchain's own compiler-rt has libFuzzer: no package needed), runs each for
## FUZZ_RUNS executions (`make fuzz FUZZ_RUNS=100000`), one at a time, and writes the table in
## docs/FUZZING.md. Not part of `make test`; every input it ever broke on is, as a regression test
## (Tests/*/Fixtures/regressions).
FUZZ_RUNS ?= 1000000
FUZZ_TARGETS := pickle zip torch-legacy safetensors npy jpeg png eam-header eam-manifest eamstats eam-model \
  eam-run-npy eam-memory eam-manifest-structured
FUZZ_BUILD := swift build -c release --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address
fuzz: fuzz-build
	python3 scripts/fuzz.py --runs $(FUZZ_RUNS)

fuzz-build: deps
	@command -v python3 >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 >/dev/null; }
	@mkdir -p .build-fuzz
	@for t in $(FUZZ_TARGETS); do \
	  echo "building fuzz-$$t"; \
	  $(FUZZ_BUILD) --product fuzz-$$t > .build-fuzz/build.log 2>&1 || { cat .build-fuzz/build.log; exit 1; }; \
	done

## Replays every committed corpus through its harness in a normal debug build (no sanitizer):
## a quick regression run over every seed and every input that ever broke something.
fuzz-replay: deps
	@for t in $(FUZZ_TARGETS); do \
	  swift build --product fuzz-$$t > /dev/null && .build/debug/fuzz-$$t Fuzz/corpus/$$t || exit 1; \
	done

## Regenerates the committed seed corpora (Fuzz/corpus/*/seed-*) from fixtures and with eamc.
fuzz-seeds: build
	python3 scripts/make_fuzz_seeds.py $(BIN)/eamc

## The test suite under AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, in
## its own scratch folder. swiftc has no -sanitize=undefined (Swift code traps on overflow and
## out-of-bounds access by itself in debug builds), so UBSan instruments the C targets (kernels,
## CRC-32C, the protobuf-c code, the image shims) and aborts on the first report; its runtime comes
## with ASan's. Leaks inside XCTest and Foundation are suppressed, narrowly and with reasons, in
## scripts/lsan-suppressions.txt. Every test runs (about 4 minutes on 2 cores): none is skipped.
SANITIZE := --scratch-path .build-sanitize --sanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
sanitize: deps
	set -o pipefail; swift build --build-tests $(SANITIZE) 2>&1 | grep -v "Cannot export local symbol '__asan"
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan-suppressions.txt:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1 swift test --skip-build $(SANITIZE)

## The HTML report rendered in headless Chromium (Debian's `chromium`, installed here if missing):
## the heatmaps must be on the screenshot (Tests/EAMCompilerTests/HTMLReportTests.swift). Also in
## `make test`.
report-test: deps
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	swift build --build-tests
	EAMC_REPORT_TEST=1 swift test --skip-build --filter HTMLReportTests

## docs/report-demo.png: the bundled demo's HTML report (make demo's EAM compile), as Chromium shows it.
report-screenshot: deps
	swift build -c release --product eamc
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@mkdir -p $(OUT)
	$(BIN)/eamc compile $(MODEL) -o $(OUT)/dinov2_vits14.eam20.eam --calib examples/images/calib --sparsity 0.2 \
	  --attn-bits 2 --eval examples/images/eval --report $(OUT)/dinov2_vits14.eam20.report.html
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1050,2900 \
	  --screenshot=docs/report-demo.png file://$(CURDIR)/$(OUT)/dinov2_vits14.eam20.report.html

## Sharded calibration on a real Slurm (Debian's slurm-wlm and munge, daemons on the loopback
## address only, in a temporary folder): examples/slurm/calibrate.sbatch as an array of 3 over
## the bundled images; the merged artifact must equal a single-machine compile byte for byte.
slurm-test: deps
	swift build -c release --product eamc
	@command -v slurmctld >/dev/null && command -v munged >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq slurm-wlm munge >/dev/null; }
	BIN=$(BIN) scripts/slurm_test.sh

## The Kubernetes example checked structurally (two Jobs, indexed shards that match --shard).
k8s-check:
	@python3 -c 'import yaml' 2>/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-yaml >/dev/null; }
	python3 scripts/check_k8s.py examples/k8s/calibrate-job.yaml

## docs/cli.md from every command's --help.
cli-docs: deps
	swift build -c release --product eamc
	swift build -c release --product eam-run
	scripts/cli_docs.sh $(BIN)/eamc $(BIN)/eam-run > docs/cli.md

clean:
	rm -rf .build .build-fuzz .build-sanitize .build-device .build-arm .build-embedded $(OUT)
