import Foundation
import EAMCompiler
import EAMIngest
import EAMRuntime

/// Paths of the repository and of ../shared (beside the project root).
enum Paths {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let fixtures = root.appendingPathComponent("Tests/Fixtures")
  static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
  static var dinov2: String { shared.appendingPathComponent("models/dinov2_vits14_224.pth").path }
  static var hasShared: Bool { FileManager.default.fileExists(atPath: dinov2) }

  static func temporary(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
  }
}

/// A small model of one family written by scripts/make_model_fixtures.py, with timm's output.
struct FixtureModel {
  let name: String
  let meta: [String: Any]

  init(_ name: String) throws {
    self.name = name
    let url = Paths.fixtures.appendingPathComponent("models/\(name).json")
    meta = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
  }

  func path(_ suffix: String) -> String { Paths.fixtures.appendingPathComponent("models/\(name)\(suffix)").path }

  /// Heads per block, as the reference was built.
  var heads: Int {
    if let kw = meta["timm_kwargs"] as? [String: Any], let h = kw["num_heads"] as? Int { return h }
    if let cfg = meta["hf_config"] as? [String: Any], let h = cfg["num_attention_heads"] as? Int { return h }
    return 0
  }

  /// Compiles the fixture's checkpoint to a temporary artifact and returns its path.
  func compile(precision: WeightPrecision = .f32, checkpointSuffix: String = ".safetensors") throws -> String {
    var options = CompileOptions()
    options.precision = precision
    options.overrides.heads = heads
    let out = Paths.temporary("\(name)-\(precision.rawValue).eam")
    _ = try Compiler.compile(path(checkpointSuffix), to: out, options: options)
    return out
  }
}

/// Cosine similarity and relative L2 error of `a` against the reference `b`.
func agreement(_ a: [Float], _ b: [Float]) -> (cosine: Double, relativeL2: Double) {
  precondition(a.count == b.count)
  var dot = 0.0, na = 0.0, nb = 0.0, diff = 0.0
  for i in a.indices {
    let x = Double(a[i]), y = Double(b[i])
    dot += x * y
    na += x * x
    nb += y * y
    diff += (x - y) * (x - y)
  }
  return (dot / (na.squareRoot() * nb.squareRoot()), diff.squareRoot() / nb.squareRoot())
}
