import Foundation
import Testing
@testable import EAMCompiler
import EAMIngest

/// Inputs eamc does not compile are named with what to do; head counts are read where the
/// checkpoint keeps them, and a guess is said to be one.
@Suite struct InputNamingTests {
  static func safetensors(_ tensors: [(String, [Int])]) -> Data {
    var header = "{", offset = 0
    for (i, (name, shape)) in tensors.enumerated() {
      let bytes = shape.reduce(4, *)
      header += (i > 0 ? "," : "") + "\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes)]}"
      offset += bytes
    }
    header += "}"
    while header.utf8.count % 8 != 0 { header += " " }
    var data = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data += $0 }
    data += Data(header.utf8)
    data += Data(count: offset)
    return data
  }

  @Test(arguments: ["onnx", "eam", "h5", "resnet", "clip", "savedmodel"])
  func unsupportedInputIsNamed(_ kind: String) throws {
    let dir = CLIRun.folder("unsupported")
    var input = dir.appendingPathComponent("model.bin").path
    let expected: String
    switch kind {
    case "onnx":
      // The first bytes every ONNX exporter writes: ir_version 8, producer_name "pytorch".
      try Data([0x08, 0x08, 0x12, 0x07] + Array("pytorch".utf8) + [0x1A, 0x03] + Array("2.1".utf8)).write(to: URL(fileURLWithPath: input))
      expected = "ONNX model: not supported yet"
    case "eam":
      let eam = dir.appendingPathComponent("m.eam").path
      try #require(try CLIRun.eamc("compile", CLITests.model, "--heads", "2", "-o", eam, "-q").status == 0)
      input = eam
      expected = "this is an .eam artifact (already compiled)"
    case "h5":
      try Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64)).write(to: URL(fileURLWithPath: input))
      expected = "HDF5 file"
    case "resnet":
      try Self.safetensors([("conv1.weight", [4, 3, 7, 7]), ("bn1.running_mean", [4]), ("layer1.0.conv1.weight", [4, 4, 3, 3]),
                            ("fc.weight", [10, 4])]).write(to: URL(fileURLWithPath: input))
      expected = "ResNet-style CNN"
    case "clip":
      try Self.safetensors([("visual.conv1.weight", [8, 3, 4, 4]), ("visual.transformer.resblocks.0.attn.in_proj_weight", [24, 8])])
        .write(to: URL(fileURLWithPath: input))
      expected = "CLIP/OpenCLIP model"
    default:
      input = dir.appendingPathComponent("saved").path
      try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
      try Data([0x08, 0x01, 0x12, 0x00]).write(to: URL(fileURLWithPath: input + "/saved_model.pb"))
      expected = "TensorFlow SavedModel folder"
    }
    let run = try CLIRun.eamc("compile", input, "-o", dir.appendingPathComponent("out.eam").path)
    #expect(run.status == 1 && run.stderr.contains(expected) && run.stderrLines.count == 1, "\(kind): \(run.stderr)")
    #expect(!run.stderr.contains("nearest family") && !run.stderr.contains("starts with"), "\(kind): \(run.stderr)")
  }

  /// timm and DeiT keep `args` (an argparse.Namespace) in training checkpoints: the fixture
  /// written by scripts/make_ingest_fixtures.py has `args.model = 'vit_small'`.
  @Test func namespaceArgumentsAreReadAsMetadata() throws {
    let ck = try CheckpointReader.read(path: CLIRun.path("Tests/EAMIngestTests/Fixtures/torch_f32_extras.pth"))
    #expect(ck.metadata["args.model"] == "vit_small", "\(ck.metadata)")
    // A size name counts only where its width fits: 'vit_small' says nothing about a 64-wide model.
    #expect(HeadCount.heads(forName: "vit_small", width: 64) == nil)
  }

  /// A Hugging Face ViT whose config.json (beside the weights) says 2 heads, where the guess
  /// would be 1: with the config the compiled model matches transformers' outputs; without it,
  /// the compile says the count was guessed, and the output is not transformers'.
  @Test func huggingFaceConfigGivesTheHeads() throws {
    let dir = CLIRun.folder("hf-config")
    let fixtures = CLIRun.path("Tests/Fixtures/models")
    let weights = dir.appendingPathComponent("model.safetensors").path
    try FileManager.default.copyItem(atPath: fixtures + "/hf_vit.safetensors", toPath: weights)
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/hf_vit.hf_config.json"))) as! [String: Any]
    let heads = try #require(config["num_attention_heads"] as? Int)

    let guessed = dir.appendingPathComponent("guessed.eam").path
    let g = try CLIRun.eamc("compile", weights, "-o", guessed)
    try #require(g.status == 0, "\(g.stderr)")
    #expect(g.stdout.contains("GUESSED"))

    try FileManager.default.copyItem(atPath: fixtures + "/hf_vit.hf_config.json", toPath: dir.appendingPathComponent("config.json").path)
    let read = dir.appendingPathComponent("read.eam").path
    let r = try CLIRun.eamc("compile", weights, "-o", read)
    try #require(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("\(heads) per block (read from the checkpoint: config.json num_attention_heads = \(heads))"), "\(r.stdout)")
    #expect(try CLIRun.eamc("inspect", read).stdout.contains("given with --heads or read from the checkpoint"))

    let expected = try NPY.read(path: fixtures + "/hf_vit.output.npy")
    func cosine(_ artifact: String) throws -> Double {
      let y = dir.appendingPathComponent(UUID().uuidString + ".npy").path
      let run = try CLIRun.eamc("run", artifact, "--input", fixtures + "/hf_vit.input.npy", "--output", y, "-q")
      try #require(run.status == 0, "\(run.stderr)")
      let out = try NPY.read(path: y).values
      var dot = 0.0, a = 0.0, b = 0.0
      for (x, z) in zip(out, expected.values) { dot += Double(x) * Double(z); a += Double(x) * Double(x); b += Double(z) * Double(z) }
      return dot / (a.squareRoot() * b.squareRoot())
    }
    #expect(try cosine(read) >= 0.99999)
    #expect(try cosine(guessed) < 0.99999)
  }
}
