import Foundation
import Testing
import EAMCompiler
import EAMFormat
import EAMIngest
import EAMRuntime

/// Swin fixtures: the small timm model (embed 32, depths 2-2, heads 2-4, window 4, image 64) and
/// the full-size Swin-T (`swin_tiny_patch4_window7_224`) with seeded weights (SEEDED_WEIGHTS.md).
enum SwinFixtures {
  static let small = "swin_tiny"
  static let seededName = "swin_tiny_patch4_window7_224"
  static var seededDir: URL { Paths.fixtures.appendingPathComponent("seeded") }

  /// Compiles a Swin checkpoint at `imageSize` to a temporary artifact.
  static func compile(_ checkpoint: String, imageSize: Int, name: String) throws -> String {
    var options = CompileOptions()
    options.overrides.imageSize = imageSize
    let out = Paths.temporary("\(name).eam")
    _ = try Compiler.compile(checkpoint, to: out, options: options)
    return out
  }

  /// The seeded Swin-T weights, generated once per test process: every key of timm's state dict.
  static let seededWeights: [String: Tensor] = {
    let url = seededDir.appendingPathComponent("\(seededName).keys.json")
    let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    let keys = json["keys"] as! [String: [Int]]
    var out: [String: Tensor] = [:]
    for (key, shape) in keys { out[key] = Tensor(shape: shape, values: seededValue(key: key, shape: shape)) }
    return out
  }()

  /// The seeded Swin-T written as safetensors and compiled; once per test process.
  static let seededArtifact: Result<String, any Error> = Result {
    let checkpoint = Paths.temporary("\(seededName).safetensors")
    try SafetensorsWriter.write(seededWeights, to: checkpoint)
    defer { try? FileManager.default.removeItem(atPath: checkpoint) }
    return try compile(checkpoint, imageSize: 224, name: seededName)
  }

  static func checkpoint(_ tensors: [String: Tensor]) -> Checkpoint {
    Checkpoint(names: tensors.keys.sorted(), tensors: tensors, format: .safetensors, origin: "test")
  }
}

/// Swin compiled from a `.pth` and the seeded Swin-T, against timm. The small Swin compiled from
/// safetensors (f32 and f16) is a committed artifact: `CommittedArtifacts` checks its compile,
/// EAMRuntimeTests its numbers, threads and windows.
@Suite struct SwinMatchesReference {
  private func check(_ artifact: String, input: String, output: String, label: String, threads: Int? = nil) throws {
    var options = LoadOptions()
    if let threads { options.threads = threads }
    let model = try Model(path: artifact, options: options)
    let x = try NPY.read(path: input)
    let y = try NPY.read(path: output)
    let out = try model.run(x.values, batch: x.shape[0])
    #expect([x.shape[0], model.outputWidth] == y.shape)
    let (cosine, rel) = agreement(out, y.values)
    print("\(label): cosine \(cosine), relative L2 \(rel)")
    #expect(cosine >= 0.99999, "\(label): cosine \(cosine)")
    #expect(rel <= 1e-4, "\(label): relative L2 \(rel)")
  }

  @Test func smallSwinFromPth() throws {
    let fixture = try FixtureModel(SwinFixtures.small)
    let artifact = try SwinFixtures.compile(fixture.path(".pth"), imageSize: 64, name: "swin_tiny-pth")
    try check(artifact, input: fixture.path(".input.npy"), output: fixture.path(".output.npy"), label: "swin_tiny (pth)")
  }

  @Test func seededSwinTMatchesTimm() throws {
    let artifact = try SwinFixtures.seededArtifact.get()
    let dir = SwinFixtures.seededDir
    try check(artifact, input: dir.appendingPathComponent("input_2x3x224x224.npy").path,
              output: dir.appendingPathComponent("\(SwinFixtures.seededName).output.npy").path, label: "Swin-T (seeded)")
  }
}

@Suite struct SwinRecognitionTests {
  @Test func smallFixtureStructure() throws {
    let fixture = try FixtureModel(SwinFixtures.small)
    var overrides = ModelOverrides()
    overrides.imageSize = 64
    let model = try Recognition.describe(try CheckpointReader.read(path: fixture.path(".safetensors")), overrides: overrides)
    let a = model.architecture
    #expect(a.family == .swin && a.pooling == .meanAll && a.patchNorm)
    #expect(a.embedDim == 32 && a.patchSize == 4 && a.imageSize == 64 && a.numClasses == 10)
    #expect(a.stageDepths == [2, 2] && a.stageHeads == [2, 4] && a.windowSize == 4 && a.normEps == 1e-5)
    #expect(model.blocks.map(\.shiftSize) == [0, 2, 0, 2])
    #expect(model.blocks.map(\.resolution) == [16, 16, 8, 8])
    #expect(model.blocks.map(\.dim) == [32, 32, 64, 64])
    #expect(model.blocks.map(\.mergeBefore) == [false, false, true, false])
    #expect(model.blocks.map(\.mlpHidden) == [64, 64, 128, 128])
  }

  @Test func seededSwinTStructure() throws {
    let model = try Recognition.describe(SwinFixtures.checkpoint(SwinFixtures.seededWeights))
    let a = model.architecture
    #expect(a.imageSize == 224 && a.embedDim == 96 && a.numClasses == 1000 && a.windowSize == 7)
    #expect(a.stageDepths == [2, 2, 6, 2] && a.stageHeads == [3, 6, 12, 24])
    #expect(model.blocks.map(\.resolution) == [56, 56, 28, 28] + Array(repeating: 14, count: 6) + [7, 7])
    // The last stage's grid equals the window: timm uses no shift there.
    #expect(model.blocks.map(\.shiftSize) == [0, 3, 0, 3, 0, 3, 0, 3, 0, 3, 0, 0])
    #expect(model.blocks.allSatisfy { $0.windowSize == 7 })
  }

  @Test func missingTensorIsNamedInOneLine() throws {
    let fixture = try FixtureModel(SwinFixtures.small)
    var tensors = try CheckpointReader.read(path: fixture.path(".safetensors")).tensors
    tensors["layers.1.blocks.0.mlp.fc2.bias"] = nil
    var overrides = ModelOverrides()
    overrides.imageSize = 64
    do {
      _ = try Recognition.describe(SwinFixtures.checkpoint(tensors), overrides: overrides)
      Issue.record("a checkpoint without layers.1.blocks.0.mlp.fc2.bias was accepted")
    } catch {
      #expect(error.description.contains("layers.1.blocks.0.mlp.fc2.bias"), "\(error)")
      #expect(error.description.contains("Swin"), "\(error)")
      #expect(!error.description.contains("\n"))
    }
  }

  @Test func wrongShapeAndUnexpectedTensorsAreNamed() throws {
    let fixture = try FixtureModel(SwinFixtures.small)
    var tensors = try CheckpointReader.read(path: fixture.path(".safetensors")).tensors
    tensors["layers.0.blocks.1.norm2.weight"] = Tensor(shape: [31], values: .init(repeating: 1, count: 31))
    tensors["layers.0.blocks.1.extra"] = Tensor(shape: [1], values: [0])
    var overrides = ModelOverrides()
    overrides.imageSize = 64
    #expect {
      _ = try Recognition.describe(SwinFixtures.checkpoint(tensors), overrides: overrides)
    } throws: { error in
      let text = "\(error)"
      return text.contains("layers.0.blocks.1.norm2.weight") && text.contains("layers.0.blocks.1.extra") && !text.contains("\n")
    }
  }
}

@Suite struct SwinVariants {
  /// timm < 0.9 stored each patch merging at the end of the previous stage.
  @Test func oldTimmDownsampleLayoutIsRenamed() throws {
    let fixture = try FixtureModel(SwinFixtures.small)
    let tensors = try CheckpointReader.read(path: fixture.path(".safetensors")).tensors
    var old: [String: Tensor] = [:]
    for (name, t) in tensors {
      old[name.hasPrefix("layers.1.downsample.") ? name.replacingOccurrences(of: "layers.1.", with: "layers.0.") : name] = t
    }
    var overrides = ModelOverrides()
    overrides.imageSize = 64
    let a = try Recognition.describe(SwinFixtures.checkpoint(tensors), overrides: overrides)
    let b = try Recognition.describe(SwinFixtures.checkpoint(old), overrides: overrides)
    #expect(a.blocks == b.blocks && a.architecture == b.architecture)
    #expect(Set(a.weights.keys) == Set(b.weights.keys))
  }

  @Test func inspectionShowsStagesAndSections() throws {
    let fixture = try FixtureModel(SwinFixtures.small)
    let path = try SwinFixtures.compile(fixture.path(".safetensors"), imageSize: 64, name: "swin_tiny-inspect")
    let text = Inspection(artifact: try Artifact(path: path)).text
    #expect(text.contains("stages [2, 2], heads [2, 4], window 4, patch norm yes, window/shift per block 4 4/2 4 4/2"), "\(text)")
    #expect(text.contains("layers.1.blocks.1.attn.relative_position_bias"))
    #expect(text.contains("layers.1.downsample.reduction.weight"))
  }

  @Test func wrongImageSizeIsExplained() throws {
    let fixture = try FixtureModel(SwinFixtures.small)
    var overrides = ModelOverrides()
    overrides.imageSize = 72  // grid 18: window 4 does not divide it
    #expect {
      _ = try Recognition.describe(try CheckpointReader.read(path: fixture.path(".safetensors")), overrides: overrides)
    } throws: { "\($0)".contains("window 4 does not divide") }
  }
}
