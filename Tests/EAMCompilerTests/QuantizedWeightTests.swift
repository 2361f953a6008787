import Foundation
import Testing
import EAMCompiler
@testable import EAMFormat
import EAMIngest
import EAMKernels
import EAMRuntime

/// `--weights int8|int4` end to end on the committed fixtures: each compiled artifact against the
/// committed f32 artifact's output, computed here on the fixture's input. The bounds are the
/// acceptance thresholds of docs/QUANTIZATION.md (the fixtures' random weights are harder to
/// quantize than trained ones: no structure, every layer at full range).
@Suite struct QuantizedWeights {
  /// The f32 artifacts without EAM, one per family and output kind.
  static let floats = CompiledFixture.artifacts.filter { $0.weights == "f32" && $0.sparsity == nil }

  @Test func thereAreFloatFixtures() { #expect(Self.floats.count >= 8) }

  /// Per image, the cosine of `a` against `b` (rows of `width`).
  static func cosines(_ a: [Float], _ b: [Float], width: Int) -> [Double] {
    stride(from: 0, to: a.count, by: width).map { agreement(Array(a[$0..<($0 + width)]), Array(b[$0..<($0 + width)])).cosine }
  }

  static func compile(_ fixture: CompiledFixture, _ precision: WeightPrecision, keepFloat: [String] = [],
                      groupSize: Int = 32, name: String) throws -> String {
    var o = try fixture.options()
    o.precision = precision
    o.quantization.keepFloat = keepFloat
    o.quantization.groupSize = groupSize
    let path = Paths.temporary(name)
    _ = try Compiler.compile(Paths.repository(fixture.checkpoint), to: path, options: o)
    return path
  }

  static func outputs(_ path: String, _ fixture: CompiledFixture) throws -> (values: [Float], width: Int) {
    let x = try NPY.read(path: Paths.repository(fixture.input!))
    var options = LoadOptions()
    options.threads = 1
    let model = try Model(path: path, options: options)
    return (try model.run(x.values, batch: x.shape[0]), model.outputWidth)
  }

  @Test(arguments: floats, [WeightPrecision.int8, .int4])
  func closeToTheFloatArtifact(fixture: CompiledFixture, precision: WeightPrecision) throws {
    let reference = try Self.outputs(Paths.runtime.appendingPathComponent(fixture.artifact!).path, fixture)
    let path = try Self.compile(fixture, precision, name: "\(fixture.name).\(precision.rawValue).eam")
    let artifact = try Artifact(path: path)
    // Every linear weight is quantized (nothing kept float), with its parts, in format 1.2.
    let linear = artifact.manifest.weights.filter { $0.type == precision.manifestType }
    #expect(linear.count >= 4 && linear.allSatisfy { artifact.section($0.scaleSection) != nil })
    #expect(artifact.header.minor == 2)
    // The memory plan made before loading counts the weights the load then copies.
    let loaded = try Model(artifact: artifact)
    #expect(loaded.copiedWeightBytes == loaded.plannedMemory.weightsCopied, "\(fixture) \(precision.rawValue)")
    let y = try Self.outputs(path, fixture)
    let cos = Self.cosines(y.values, reference.values, width: y.width)
    // int4 on these tiny random models (10 logits, every weight at full range) is far from the
    // float model on some inputs; on the real DINOv2-S/14 see docs/QUANTIZATION.md.
    let bound = precision == .int8 ? 0.995 : 0.8
    #expect(cos.allSatisfy { $0 >= bound }, "\(fixture) \(precision.rawValue): cosines \(cos)")
    // int8 is closer than int4 on the same model.
    if precision == .int4 {
      let int8 = try Self.outputs(try Self.compile(fixture, .int8, name: "\(fixture.name).int8b.eam"), fixture)
      let cos8 = Self.cosines(int8.values, reference.values, width: y.width)
      #expect(cos8.reduce(0, +) >= cos.reduce(0, +), "\(fixture): int8 \(cos8), int4 \(cos)")
    }
  }

  @Test func keptLayersStayFloatAndTheArtifactShrinks() throws {
    let fixture = try #require(Self.floats.first { $0.name.hasPrefix("deit_tiny") })
    let kept = try Artifact(path: try Self.compile(fixture, .int8, keepFloat: ["patch_embed", "head", "blocks.0"], name: "kept.eam"))
    let types = Dictionary(uniqueKeysWithValues: kept.manifest.weights.map { ($0.name, $0.type) })
    #expect(types["patch_embed.proj.weight"] == .f32 && types["head.weight"] == .f32)
    #expect(types["blocks.0.mlp.fc1.weight"] == .f32 && types["blocks.1.mlp.fc1.weight"] == .int8)
    #expect(kept.section("blocks.1.attn.qkv.weight")?.layout == .int8Panels)
    let float = try FileManager.default.attributesOfItem(atPath: Paths.runtime.appendingPathComponent(fixture.artifact!).path)[.size] as! Int
    let int8 = try FileManager.default.attributesOfItem(atPath: try Self.compile(fixture, .int8, name: "all8.eam"))[.size] as! Int
    let int4 = try FileManager.default.attributesOfItem(atPath: try Self.compile(fixture, .int4, name: "all4.eam"))[.size] as! Int
    #expect(int4 < int8 && int8 < float, "\(int4) \(int8) \(float)")
  }

  /// `inspect`'s size by type: int8 and int4 weights (their scales and sums with them) against
  /// the same tensors in float32, which add up to the f32 artifact's weights.
  @Test func inspectionBreaksTheSizeDownByType() throws {
    let fixture = try #require(Self.floats.first { $0.name.hasPrefix("dinov2_small") })
    let float = Inspection(artifact: try Artifact(path: Paths.runtime.appendingPathComponent(fixture.artifact!).path))
    let floatBytes = float.sizeByType.reduce(0) { $0 + $1.float }
    for precision in [WeightPrecision.int8, .int4] {
      let artifact = try Artifact(path: try Self.compile(fixture, precision, name: "inspect.\(precision.rawValue).eam"))
      let rows = Inspection(artifact: artifact).sizeByType
      let q = try #require(rows.first { $0.type == precision.rawValue })
      #expect(q.tensors == artifact.manifest.weights.filter { $0.type == precision.manifestType }.count)
      #expect(rows.reduce(0) { $0 + $1.float } == floatBytes)
      #expect(rows.reduce(0) { $0 + $1.stored } == artifact.sections.reduce(0) { $0 + $1.storedLength })
      #expect(q.stored * (precision == .int8 ? 3 : 5) < q.float, "\(q)")
      let text = Inspection(artifact: artifact).text
      #expect(text.contains("size by type:") && text.contains(".weight_scale") && text.contains(precision == .int8 ? "int8p" : "int4p"))
    }
  }

  /// Every int8 path the CPU runs gives the portable path's model output bit for bit (all take
  /// the same 8-bit activation codes).
  @Test func everyInt8PathOfTheModel() throws {
    let fixture = try #require(Self.floats.first { $0.name.hasPrefix("dinov2_small") })
    let path = try Self.compile(fixture, .int8, name: "paths.eam")
    let portable = try Int8Path.portable.withThreadPath { try Self.outputs(path, fixture) }
    for p in Int8Path.allCases where p.isSupported && p != .portable {
      let y = try p.withThreadPath { try Self.outputs(path, fixture) }
      #expect(p.codeMax == 255 && bitDifference(y.values, portable.values) == nil,
              "\(p.name): \(bitDifference(y.values, portable.values) ?? "")")
    }
  }

  /// The int8 layers' row-split chains (`Int8RowChain`) give the same bits as the column-split
  /// layers they replace (a sublayer observer keeps proj column-split and each step apart), at
  /// 1 to 3 threads, and a batch gives its images' rows.
  @Test(arguments: floats.filter { !$0.name.hasPrefix("swin") })
  func int8ChainsDoNotChangeResults(fixture: CompiledFixture) throws {
    let path = try Self.compile(fixture, .int8, name: "\(fixture.name).chains.int8.eam")
    let x = try NPY.read(path: Paths.repository(fixture.input!))
    func run(threads: Int, observed: Bool, batch: Int? = nil) throws -> [Float] {
      var options = LoadOptions()
      options.threads = threads
      let model = try Model(path: path, options: options)
      if observed { model.sublayerObserver = { _, _, _, _, _ in } }
      guard let batch else { return try model.run(x.values, batch: x.shape[0]) }
      let per = x.count / x.shape[0]
      return try model.run(Array(x.values[(batch * per)..<((batch + 1) * per)]), batch: 1)
    }
    let apart = try run(threads: 1, observed: true)
    for threads in [1, 2, 3] {
      for observed in [false, true] {
        let y = try run(threads: threads, observed: observed)
        #expect(bitDifference(y, apart) == nil, "\(fixture), threads \(threads), observed \(observed): \(bitDifference(y, apart) ?? "")")
      }
    }
    let images = try (0..<x.shape[0]).flatMap { try run(threads: 2, observed: false, batch: $0) }
    #expect(bitDifference(images, apart) == nil, "\(fixture), image by image: \(bitDifference(images, apart) ?? "")")
  }

  /// int8 weights with EAM (20% frozen, 2-bit maps) in one compile, against the f32 EAM artifact
  /// compiled from the same statistics.
  @Test func int8ComposesWithEAM() throws {
    let fixture = try #require(CompiledFixture.artifacts.first { $0.name.hasPrefix("dinov2_small") && $0.sparsity == 0.3 })
    var o = try fixture.options()
    o.precision = .int8
    o.quantization.keepFloat = []
    o.eam?.sparsity = 0.2
    let quantized = Paths.temporary("eam20.int8.eam")
    _ = try Compiler.compile(Paths.repository(fixture.checkpoint), to: quantized, options: o)
    o.precision = .f32
    let float = Paths.temporary("eam20.f32.eam")
    _ = try Compiler.compile(Paths.repository(fixture.checkpoint), to: float, options: o)
    let artifact = try Artifact(path: quantized)
    #expect(artifact.manifest.blocks.contains { !$0.frozen.isEmpty })
    #expect(artifact.manifest.weights.contains { $0.type == .int8 })
    #expect(artifact.manifest.compile.arguments.contains("--weights=int8") && artifact.manifest.compile.arguments.contains("--sparsity=0.2"))
    let a = try Self.outputs(quantized, fixture), b = try Self.outputs(float, fixture)
    let cos = Self.cosines(a.values, b.values, width: a.width)
    #expect(cos.allSatisfy { $0 >= 0.995 }, "\(cos)")
  }

  /// An int8 or int4 compile with images writes a report that measures the artifact as written
  /// (its fidelity is `eamc eval`'s, bit for bit) and lists every linear layer with its type,
  /// bytes and the output error it adds alone.
  @Test(arguments: [WeightPrecision.int8, .int4])
  func theReportMeasuresTheArtifactAsWritten(precision: WeightPrecision) throws {
    let fixture = try #require(Self.floats.first { $0.name.hasPrefix("dinov2_small") })
    var o = try fixture.options()
    o.precision = precision
    o.quantization.keepFloat = []
    o.calibrationImages = try ImageFolder.list(Paths.repository("examples/images/calib"))
    o.evalImages = try ImageFolder.list(Paths.repository("examples/images/eval"))
    let path = Paths.temporary("report.\(precision.rawValue).eam")
    let summary = try Compiler.compile(Paths.repository(fixture.checkpoint), to: path, options: o)
    let report = try #require(summary.report)
    #expect(summary.reportPath.map { FileManager.default.fileExists(atPath: $0) } == true)
    let eval = try Evaluation.evaluate(artifact: path, reference: Paths.repository(fixture.checkpoint), images: o.evalImages)
    let measured = try #require(report.fidelity.first { $0.0 == "eam" }?.1)
    #expect(measured.cosines == eval.cosines, "report \(measured.cosines), eval \(eval.cosines)")
    let artifact = try Artifact(path: path)
    let quantized = artifact.manifest.weights.filter { $0.type == precision.manifestType }
    #expect(report.quantization.filter { $0.type == precision.rawValue }.count == quantized.count)
    #expect(report.quantizationImages == "calibration")
    for q in report.quantization where q.type == precision.rawValue {
      #expect((q.error ?? -1) > 0 && q.error! < 0.5, "\(q)")
      #expect(q.storedBytes > 0 && q.storedBytes * (precision == .int8 ? 3 : 5) < q.float32Bytes, "\(q)")
    }
    // A layer's error alone is below the whole artifact's.
    let worst = report.quantization.compactMap(\.error).max() ?? 1
    #expect(worst <= 1 - measured.meanCosine + 1e-9, "\(worst) vs \(1 - measured.meanCosine)")
  }

  /// `--act-quant static`: every int8 layer the observer sees codes its input with one range
  /// measured on the calibration images (format 1.3), and stays close to the float model on them.
  @Test func staticActivationsFromCalibration() throws {
    let fixture = try #require(Self.floats.first { $0.name.hasPrefix("dinov2_small") })
    let images = try ImageFolder.list(Paths.repository("examples/images/calib"))
    func compile(_ activation: WeightQuantization.ActivationQuantization) throws -> String {
      var o = try fixture.options()
      o.precision = .int8
      o.quantization.keepFloat = []
      o.quantization.activation = activation
      o.calibrationImages = images
      let path = Paths.temporary("act.\(activation.rawValue).eam")
      _ = try Compiler.compile(Paths.repository(fixture.checkpoint), to: path, options: o)
      return path
    }
    let path = try compile(.static), dynamic = try compile(.dynamic)
    let artifact = try Artifact(path: path)
    let dynamicMinor = try Artifact(path: dynamic).header.minor
    #expect(artifact.header.minor == 3 && dynamicMinor == 2)
    let int8 = artifact.manifest.weights.filter { $0.type == .int8 }
    #expect(!int8.isEmpty && int8.allSatisfy { $0.activation == .static && $0.activationMin <= 0 && $0.activationMax > $0.activationMin })
    #expect(artifact.manifest.compile.arguments.contains("--act-quant=static"))
    let float = try Model(path: Paths.runtime.appendingPathComponent(fixture.artifact!).path)
    let x = try ImageInput.batch(paths: images, preprocessing: float.manifest.preprocessing)
    let reference = try float.run(x, batch: images.count)
    let s = Self.cosines(try Model(path: path).run(x, batch: images.count), reference, width: float.outputWidth)
    let d = Self.cosines(try Model(path: dynamic).run(x, batch: images.count), reference, width: float.outputWidth)
    #expect(s.allSatisfy { $0 >= 0.99 }, "static \(s), dynamic \(d)")
  }

  /// A static range that is not finite or does not hold 0 is refused at load.
  @Test func staticRangesOutsideTheirDomainAreRefused() throws {
    var m = Manifest()
    for (lo, hi) in [(Float.nan, 1), (-1, Float.infinity), (0.5, 1), (-1, -0.5), (-Float.greatestFiniteMagnitude, Float.greatestFiniteMagnitude)] {
      m.weights = [Manifest.Weight(name: "w", type: .int8, scaleSection: "s", sumsSection: "t", activation: .static,
                                   activationMin: lo, activationMax: hi)]
      #expect(throws: FormatError.self, "[\(lo), \(hi)]") { try ManifestValidation.weights(m) }
    }
  }

  /// A scale or column sum the file gets wrong is refused at load with one line naming it.
  @Test func inconsistentPartsAreRefused() throws {
    let fixture = try #require(Self.floats.first { $0.name.hasPrefix("deit_tiny") })
    let path = try Self.compile(fixture, .int8, name: "corrupt.eam")
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let artifact = try Artifact(bytes: original, name: "ok")
    let weight = try #require(artifact.manifest.weights.first { $0.type == .int8 })
    var options = LoadOptions()
    options.verify = false  // the checksums would catch these first
    func refused(_ section: String, _ offset: Int, _ value: [UInt8], _ message: String) throws {
      let s = try #require(artifact.section(section))
      var bytes = original
      bytes.replaceSubrange((s.offset + offset)..<(s.offset + offset + value.count), with: value)
      let broken = try Artifact(bytes: bytes, name: "broken.eam")
      #expect { _ = try Model(artifact: broken, options: options) } throws: { error in
        "\(error)".contains(message) && "\(error)".contains(section.hasSuffix("weight") ? section : weight.name)
      }
    }
    try refused(weight.scaleSection, 0, withUnsafeBytes(of: Float(-1)) { Array($0) }, "scale")
    try refused(weight.scaleSection, 4, withUnsafeBytes(of: Float.nan) { Array($0) }, "scale")
    try refused(weight.sumsSection, 0, withUnsafeBytes(of: Int32(1 << 30)) { Array($0) }, "sum")
    try refused(weight.name, 0, [0x80], "-128")
    _ = try Model(artifact: artifact, options: options)
  }
}

extension WeightPrecision {
  var manifestType: Manifest.WeightType {
    switch self {
    case .f32: .f32
    case .f16: .f16
    case .int8: .int8
    case .int4: .int4
    }
  }
}
