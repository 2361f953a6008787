// swift-tools-version:6.0
// eamc: an offline compiler (EAMCompiler, `eamc`) and a small runtime (EAMRuntime, `eam-run`)
// for Vision Transformers with entropy-guided attention-map compression.
import PackageDescription

/// C kernels are always built optimised: a debug `swift test` must not run -O0 GEMMs.
let kernelCFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=off"])]

/// The fuzz harnesses: product name, folder under `Fuzz/`, the modules the harness calls.
let fuzzTargets: [(String, String, [Target.Dependency])] = [
  ("fuzz-pickle", "Pickle", ["EAMIngest"]),
  ("fuzz-zip", "Zip", ["EAMIngest"]),
  ("fuzz-torch-legacy", "TorchLegacy", ["EAMIngest"]),
  ("fuzz-safetensors", "Safetensors", ["EAMIngest"]),
  ("fuzz-npy", "NPY", ["EAMIngest"]),
  ("fuzz-jpeg", "JPEG", ["EAMImage"]),
  ("fuzz-png", "PNG", ["EAMImage"]),
  ("fuzz-eam-header", "EAMHeader", ["EAMFormat"]),
  ("fuzz-eam-manifest", "EAMManifest", ["EAMFormat"]),
  ("fuzz-eamstats", "EAMStats", ["EAMCompiler"]),
  ("fuzz-eam-model", "EAMModel", ["EAMFormat", "EAMRuntime"]),
  ("fuzz-eam-run-npy", "EAMRunNPY", ["EAMRunSupport"]),
  ("fuzz-eam-memory", "EAMMemory", ["EAMFormat", "FuzzModelSupport"]),
  ("fuzz-eam-manifest-structured", "EAMManifestStructured", ["EAMFormat", "FuzzModelSupport"]),
]

let package = Package(
  name: "eamc",
  products: [
    .executable(name: "eamc", targets: ["eamc"]),
    .executable(name: "eam-run", targets: ["eam-run"]),
    .library(name: "EAMRuntimeCore", targets: ["EAMRuntimeCore"]),
    .library(name: "EAMRuntime", targets: ["EAMRuntime"]),
    .library(name: "EAMCompiler", targets: ["EAMCompiler"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // System libraries (Debian packages, installed by the Makefile).
    .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                   providers: [.apt(["libzstd-dev"])]),
    .systemLibrary(name: "CProtobufC", path: "Sources/CProtobufC", pkgConfig: "libprotobuf-c",
                   providers: [.apt(["libprotobuf-c-dev"])]),
    .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                   providers: [.apt(["libjpeg62-turbo-dev"])]),
    .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                   providers: [.apt(["libpng-dev"])]),

    // Kernels: C with per-function target attributes, chosen at run time (and CRC-32C); one
    // Swift interface.
    .target(name: "CEAMKernels", path: "Sources/CEAMKernels", cSettings: kernelCFlags),
    .target(name: "EAMKernels", dependencies: ["CEAMKernels"]),

    // The platform layer of the runtime core: files or memory, threads, clock (header-only C
    // shim over POSIX; nothing on targets without an operating system).
    .target(name: "CEAMPlatform", path: "Sources/CEAMPlatform"),
    .target(name: "EAMPlatform", dependencies: ["CEAMPlatform"]),

    // The `.eam` container and its schema (section names). The reader half builds as Embedded
    // Swift; the protoc-c output of schemas/eam.proto (committed) encodes manifests on the
    // compiler side.
    .target(name: "CEAMFormat", dependencies: ["CProtobufC"], path: "Sources/CEAMFormat",
            cSettings: kernelCFlags),
    .target(name: "EAMFormat", dependencies: ["EAMPlatform", "EAMKernels", "CEAMFormat", "CZstd"]),

    // What ships to devices: plan, execute and weight store over the platform layer; builds as
    // Embedded Swift (`make embedded-check`). No Foundation.
    .target(name: "EAMRuntimeCore", dependencies: ["EAMPlatform", "EAMFormat", "EAMKernels"]),
    // The hosted runtime: the core plus benchmarking, attention timing and peak memory.
    .target(name: "EAMRuntime", dependencies: ["EAMRuntimeCore", "EAMPlatform", "EAMKernels"]),

    // Compiler side: untrusted checkpoints -> named tensors; images -> model inputs.
    .target(name: "EAMIngest", dependencies: ["EAMFormat"]),
    .target(name: "EAMImage", dependencies: ["CJPEG", "CPNG"]),
    .target(name: "EAMCompiler",
            dependencies: ["EAMIngest", "EAMImage", "EAMFormat", "EAMPlatform", "EAMRuntime", "EAMKernels"]),

    .executableTarget(name: "eamc", dependencies: [
      "EAMCompiler", "EAMFormat", "EAMIngest", "EAMRuntime", "EAMKernels",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),
    // eam-run's own file handling (its .npy reader and writer): hosted only, not part of the core.
    .target(name: "EAMRunSupport", dependencies: ["EAMPlatform"]),
    .executableTarget(name: "eam-run", dependencies: ["EAMRuntimeCore", "EAMPlatform", "EAMRunSupport"]),

    // Fuzz harnesses (docs/FUZZING.md): one small executable per parser. Built normally, each
    // replays the files given as arguments through its harness; built with `-DFUZZING` and
    // `-sanitize=fuzzer,address` (`make fuzz`), libFuzzer drives the same function.
    .target(name: "CFuzzer", path: "Fuzz/CFuzzer"),
    .target(name: "FuzzSupport", dependencies: ["CFuzzer", "EAMFormat"], path: "Fuzz/Support"),
    .target(name: "FuzzModelSupport", dependencies: ["EAMFormat", "EAMRuntimeCore"], path: "Fuzz/ModelSupport"),
  ] + fuzzTargets.map { name, path, dependencies in
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, path: "Fuzz/" + path)
  } + [
    .testTarget(name: "EAMFormatTests", dependencies: ["EAMFormat"], resources: [.copy("Fixtures")]),
    .testTarget(name: "EAMKernelsTests", dependencies: ["EAMKernels"]),
    .testTarget(name: "EAMIngestTests", dependencies: ["EAMIngest"],
                resources: [.copy("Fixtures")]),
    .testTarget(name: "EAMImageTests", dependencies: ["EAMImage"],
                resources: [.copy("Fixtures")]),
    // The runtime's tests run on committed artifacts (Tests/Fixtures/runtime): no compiler.
    .testTarget(name: "EAMRuntimeTests", dependencies: ["EAMRuntime", "EAMFormat", "EAMKernels"]),
    .testTarget(name: "EAMRunSupportTests", dependencies: ["EAMRunSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "EAMCompilerTests", dependencies: ["EAMCompiler", "EAMRuntime"]),
  ]
)
