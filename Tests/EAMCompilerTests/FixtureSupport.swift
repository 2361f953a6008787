import Foundation
import EAMCompiler
import EAMIngest
import EAMRuntime

/// Paths of the repository and of ../shared (beside the project root).
enum Paths {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let fixtures = root.appendingPathComponent("Tests/Fixtures")
  static let runtime = fixtures.appendingPathComponent("runtime")
  static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
  static var dinov2: String { shared.appendingPathComponent("models/dinov2_vits14_224.pth").path }
  static var hasShared: Bool { FileManager.default.fileExists(atPath: dinov2) }

  /// A path given relative to the repository root (as Tests/Fixtures/runtime/index.json gives them).
  static func repository(_ relative: String) -> String { root.appendingPathComponent(relative).path }

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
}

/// A committed fixture that cannot be used: one line naming the file and what is wrong.
struct FixtureError: Error, CustomStringConvertible { let description: String }

/// One entry of Tests/Fixtures/runtime/index.json (scripts/make_runtime_fixtures.py): how an
/// artifact was compiled, and the runtime's committed output per kernel variant.
struct CompiledFixture: CustomStringConvertible, Sendable {
  /// The committed artifact's file name; nil for the large models (only their hash is committed).
  let artifact: String?
  let name: String
  let checkpoint: String
  let weights: String
  let heads: Int?
  let imageSize: Int?
  let calibrationImages: String?
  let sparsity: Double?
  let attnBits: Int?
  /// The EAM selection criterion (`--select`); nil: the default.
  let select: String?
  /// A preprocessed batch, or a list of image files (relative to examples/) to decode.
  let input: String?
  let images: String?
  let reference: String?
  let sha256: String
  let bytes: Int
  let outputs: [String: String]

  var description: String { artifact ?? name }

  /// The options that reproduce the compile (what `eamc compile` made of the script's flags).
  func options() throws -> CompileOptions {
    var o = CompileOptions()
    guard let precision = WeightPrecision(rawValue: weights) else { throw FixtureError(description: "\(self): weights \(weights)") }
    o.precision = precision
    o.overrides.heads = heads
    o.overrides.imageSize = imageSize
    if let calibrationImages, let sparsity {
      o.calibrationImages = try ImageFolder.list(Paths.repository(calibrationImages))
      o.calibration.progress = false
      var e = EAMOptions()
      e.sparsity = sparsity
      e.bits = attnBits ?? 2
      if let select {
        guard let criterion = SelectionCriterion(rawValue: select) else { throw FixtureError(description: "\(self): select \(select)") }
        e.criterion = criterion
      }
      o.eam = e
    }
    return o
  }

  /// The committed output of `variant`, or nil if none was recorded for it.
  func committedOutput(_ variant: String) throws -> Tensor? {
    guard let file = outputs[variant] else { return nil }
    return try NPY.read(path: Paths.runtime.appendingPathComponent(file).path)
  }

  /// index.json, read once: the small committed artifacts and the large models.
  static let index: Result<(artifacts: [CompiledFixture], large: [CompiledFixture]), any Error> = Result {
    let path = Paths.runtime.appendingPathComponent("index.json").path
    func bad(_ what: String) -> FixtureError { FixtureError(description: "\(path): \(what)") }
    guard let data = FileManager.default.contents(atPath: path) else { throw bad("cannot read") }
    guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let artifacts = json["artifacts"] as? [[String: Any]], let large = json["large"] as? [[String: Any]]
    else { throw bad("not the index make_runtime_fixtures.py writes") }
    func entry(_ e: [String: Any]) throws -> CompiledFixture {
      guard let checkpoint = e["checkpoint"] as? String, let weights = e["weights"] as? String,
            let sha256 = e["sha256"] as? String, let bytes = e["bytes"] as? Int, let outputs = e["outputs"] as? [String: String],
            let name = (e["model"] ?? e["name"]) as? String
      else { throw bad("an entry lacks checkpoint, weights, sha256, bytes, outputs or a name") }
      let calibration = e["calibration"] as? [String: Any]
      return CompiledFixture(
        artifact: e["artifact"] as? String, name: name, checkpoint: checkpoint, weights: weights,
        heads: e["heads"] as? Int, imageSize: e["image_size"] as? Int,
        calibrationImages: calibration?["images"] as? String, sparsity: calibration?["sparsity"] as? Double,
        attnBits: calibration?["attn_bits"] as? Int, select: calibration?["select"] as? String, input: e["input"] as? String, images: e["images"] as? String,
        reference: e["reference"] as? String, sha256: sha256, bytes: bytes, outputs: outputs)
    }
    return (try artifacts.map(entry), try large.map(entry))
  }

  /// The small committed artifacts (none if index.json is unreadable: the identity test then fails).
  static var artifacts: [CompiledFixture] { (try? index.get().artifacts) ?? [] }

  static func large(_ name: String) throws -> CompiledFixture {
    guard let f = try index.get().large.first(where: { $0.name == name }) else {
      throw FixtureError(description: "\(name) is not in Tests/Fixtures/runtime/index.json")
    }
    return f
  }
}

/// SHA-256 of a file, hex: by coreutils' `sha256sum` where present (the package's own SHA256 runs
/// at a few MB/s in a debug build, half a minute for an 88 MB artifact), else by `SHA256`.
func fileSHA256(_ path: String) throws -> String {
  let tool = "/usr/bin/sha256sum"
  if FileManager.default.isExecutableFile(atPath: tool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = [path]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0, let hex = text.split(separator: " ").first, hex.count == 64 else {
      throw FixtureError(description: "\(path): sha256sum failed")
    }
    return String(hex)
  }
  guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError(description: "\(path): cannot read") }
  return SHA256.hex([UInt8](data))
}

/// Nil when `a` and `b` are the same floats bit for bit; else how they differ, for a message.
func bitDifference(_ a: [Float], _ b: [Float]) -> String? {
  guard a.count == b.count else { return "\(a.count) values against \(b.count)" }
  var differing = 0, worst: Float = 0
  for i in a.indices where a[i].bitPattern != b[i].bitPattern {
    differing += 1
    worst = max(worst, abs(a[i] - b[i]))
  }
  return differing == 0 ? nil : "\(differing) of \(a.count) values differ, by up to \(worst)"
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

/// The cases of one pass in Tests/Fixtures/passes/index.json (scripts/make_pass_fixtures.py).
func passFixtureCases(_ pass: String) -> [[String: Any]] {
  let url = Paths.fixtures.appendingPathComponent("passes/index.json")
  guard let data = try? Data(contentsOf: url),
        let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
  return json[pass] as? [[String: Any]] ?? []
}
