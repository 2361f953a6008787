import Foundation
import Testing
import EAMCompiler
import EAMIngest
import EAMKernels
import EAMRuntime

/// The real DINOv2-S/14: the original `.pth` from ../shared (the torch zip format) on two
/// preprocessed real images, and the bundled fp16 example on its held-out JPEGs. Against timm, and
/// against today's exact artifact (its SHA-256) and outputs per kernel variant
/// (Tests/Fixtures/runtime, scripts/make_runtime_fixtures.py).
@Suite struct RealDINOv2 {
  /// Each model compiled once per test process (88 MB each, in the temporary folder).
  static let shared: Result<String, any Error> = Result {
    let out = Paths.temporary("shared-dinov2.eam")
    _ = try Compiler.compile(Paths.dinov2, to: out, options: CompileOptions())
    return out
  }
  static let example: Result<String, any Error> = Result {
    let out = Paths.temporary("example-dinov2.eam")
    _ = try Compiler.compile(Paths.repository("examples/models/dinov2_vits14_224.fp16.safetensors"), to: out,
                             options: CompileOptions())
    return out
  }

  /// The held-out images of examples/reference/eval_files.txt.
  static func exampleImages() throws -> [String] {
    try String(contentsOf: Paths.root.appendingPathComponent("examples/reference/eval_files.txt"), encoding: .utf8)
      .split(separator: "\n").map { Paths.repository("examples/" + $0) }
  }

  /// The bundled fp16 example, decoded and preprocessed from JPEG by eamc, against timm's output
  /// for the fp16-rounded weights on the same held-out images (examples/reference).
  @Test func bundledExampleMatchesTimmOnHeldOutImages() throws {
    let model = try Model(path: try Self.example.get())
    let files = try Self.exampleImages()
    let input = try ImageInput.batch(paths: files, preprocessing: model.manifest.preprocessing)
    let expected = try NPY.read(path: Paths.repository("examples/reference/eval_outputs.npy"))
    let got = try model.run(input, batch: files.count)
    for i in 0..<files.count {
      let w = model.outputWidth
      let (cosine, rel) = agreement(Array(got[(i * w)..<((i + 1) * w)]), Array(expected.values[(i * w)..<((i + 1) * w)]))
      #expect(cosine >= 0.99999, "\(files[i]): cosine \(cosine)")
      #expect(rel <= 1e-4, "\(files[i]): relative L2 \(rel)")
    }
  }

  @Test(.enabled(if: Paths.hasShared)) func sharedCheckpointMatchesTimm() throws {
    let model = try Model(path: try Self.shared.get())
    let x = try NPY.read(path: Paths.fixtures.appendingPathComponent("seeded/input_2x3x224x224.npy").path)
    let y = try NPY.read(path: Paths.fixtures.appendingPathComponent("dinov2/output.npy").path)
    let got = try model.run(x.values, batch: 2)
    let (cosine, rel) = agreement(got, y.values)
    #expect(cosine >= 0.99999, "cosine \(cosine)")
    #expect(rel <= 1e-4, "relative L2 \(rel)")
  }

  /// Today's artifact, byte for byte (by its hash: the artifact itself is not committed).
  @Test func bundledExampleCompilesToTodaysArtifact() throws {
    let fixture = try CompiledFixture.large("example_dinov2")
    let path = try Self.example.get()
    #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == fixture.bytes)
    #expect(try fileSHA256(path) == fixture.sha256)
  }

  @Test(.enabled(if: Paths.hasShared)) func sharedCheckpointCompilesToTodaysArtifact() throws {
    let fixture = try CompiledFixture.large("real_dinov2")
    let path = try Self.shared.get()
    #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == fixture.bytes)
    #expect(try fileSHA256(path) == fixture.sha256)
  }

  /// Every kernel variant this CPU supports gives today's output bit for bit (one runtime thread,
  /// the variant on the calling thread), and the default thread count the active variant's.
  @Test func bundledExampleGivesTodaysOutputs() throws {
    let fixture = try CompiledFixture.large("example_dinov2")
    let path = try Self.example.get()
    let files = try Self.exampleImages()
    let preprocessing = try Model(path: path).manifest.preprocessing
    let input = try ImageInput.batch(paths: files, preprocessing: preprocessing)
    try expectTodaysOutputs(fixture, path: path, input: input, batch: files.count)
  }

  @Test(.enabled(if: Paths.hasShared)) func sharedCheckpointGivesTodaysOutputs() throws {
    let fixture = try CompiledFixture.large("real_dinov2")
    let x = try NPY.read(path: Paths.repository(try #require(fixture.input)))
    try expectTodaysOutputs(fixture, path: try Self.shared.get(), input: x.values, batch: x.shape[0])
  }

  private func expectTodaysOutputs(_ fixture: CompiledFixture, path: String, input: [Float], batch: Int) throws {
    var one = LoadOptions()
    one.threads = 1
    for variant in KernelVariant.allCases where variant.isSupported {
      let expected = try #require(try fixture.committedOutput(variant.name),
                                  "\(fixture): no committed output for \(variant.name) kernels (make runtime-fixtures on a CPU with them)")
      let got = try variant.withThreadVariant { try Model(path: path, options: one).run(input, batch: batch) }
      let difference = bitDifference(got, expected.values)
      #expect(difference == nil, "\(fixture), \(variant.name) kernels: \(difference ?? "")")
    }
    let active = try #require(try fixture.committedOutput(KernelVariant.active.name))
    let difference = bitDifference(try Model(path: path).run(input, batch: batch), active.values)
    #expect(difference == nil, "\(fixture), \(KernelVariant.active.name) kernels, default threads: \(difference ?? "")")
  }
}
