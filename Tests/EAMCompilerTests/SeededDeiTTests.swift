import Foundation
import Testing
import EAMCompiler
import EAMIngest
import EAMRuntime

/// Full-size DeiT-T, distilled DeiT-T and DeiT-S with deterministic generated weights
/// (Tests/Fixtures/seeded/SEEDED_WEIGHTS.md) against timm on two real preprocessed images.
@Suite struct SeededDeiTMatchesTimm {
  static let dir = Paths.fixtures.appendingPathComponent("seeded")

  @Test(arguments: [
    ("deit_tiny_patch16_224", 3), ("deit_tiny_distilled_patch16_224", 3), ("deit_small_patch16_224", 6),
  ])
  func seededModel(name: String, heads: Int) throws {
    let keysURL = Self.dir.appendingPathComponent("\(name).keys.json")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: keysURL)) as! [String: Any]
    var tensors: [String: Tensor] = [:]
    for (key, shape) in json["keys"] as! [String: [Int]] {
      tensors[key] = Tensor(shape: shape, values: seededValue(key: key, shape: shape))
    }
    let checkpoint = Paths.temporary("\(name).safetensors")
    try SafetensorsWriter.write(tensors, to: checkpoint)
    defer { try? FileManager.default.removeItem(atPath: checkpoint) }
    var options = CompileOptions()
    options.overrides.heads = heads
    let artifact = Paths.temporary("\(name).eam")
    _ = try Compiler.compile(checkpoint, to: artifact, options: options)
    let model = try Model(path: artifact)
    let x = try NPY.read(path: Self.dir.appendingPathComponent("input_2x3x224x224.npy").path)
    let y = try NPY.read(path: Self.dir.appendingPathComponent("\(name).output.npy").path)
    let (cosine, rel) = agreement(try model.run(x.values, batch: 2), y.values)
    #expect(cosine >= 0.99999, "\(name): cosine \(cosine)")
    #expect(rel <= 1e-4, "\(name): relative L2 \(rel)")
  }
}
