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
]

let package = Package(
  name: "eamc",
  products: [
    .executable(name: "eamc", targets: ["eamc"]),
    .executable(name: "eam-run", targets: ["eam-run"]),
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

    // The `.eam` container: C support (protoc-c output of schemas/eam.proto, committed; CRC32C)
    // and the Swift reader/writer.
    .target(name: "CEAMFormat", dependencies: ["CProtobufC"], path: "Sources/CEAMFormat",
            cSettings: kernelCFlags),
    .target(name: "EAMFormat", dependencies: ["CEAMFormat", "CZstd"]),

    // Kernels: C with per-function target attributes, chosen at run time; one Swift interface.
    .target(name: "CEAMKernels", path: "Sources/CEAMKernels", cSettings: kernelCFlags),
    .target(name: "EAMKernels", dependencies: ["CEAMKernels"]),

    // What ships to devices: loads and runs `.eam` only. No Foundation.
    .target(name: "EAMRuntime", dependencies: ["EAMFormat", "EAMKernels"]),

    // Compiler side: untrusted checkpoints -> named tensors; images -> model inputs.
    .target(name: "EAMIngest"),
    .target(name: "EAMImage", dependencies: ["CJPEG", "CPNG"]),
    .target(name: "EAMCompiler",
            dependencies: ["EAMIngest", "EAMImage", "EAMFormat", "EAMRuntime", "EAMKernels"]),

    .executableTarget(name: "eamc", dependencies: [
      "EAMCompiler", .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),
    .executableTarget(name: "eam-run", dependencies: ["EAMRuntime"]),

    // Fuzz harnesses (docs/FUZZING.md): one small executable per parser. Built normally, each
    // replays the files given as arguments through its harness; built with `-DFUZZING` and
    // `-sanitize=fuzzer,address` (`make fuzz`), libFuzzer drives the same function.
    .target(name: "CFuzzer", path: "Fuzz/CFuzzer"),
    .target(name: "FuzzSupport", dependencies: ["CFuzzer", "EAMFormat"], path: "Fuzz/Support"),
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
    .testTarget(name: "EAMCompilerTests", dependencies: ["EAMCompiler", "EAMRuntime"]),
  ]
)
