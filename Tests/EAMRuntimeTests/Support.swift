import Foundation
import EAMRuntime

/// Paths of the repository and of its committed fixtures.
enum Paths {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let fixtures = root.appendingPathComponent("Tests/Fixtures")
  static let runtime = fixtures.appendingPathComponent("runtime")

  /// A path given relative to the repository root (as index.json gives them).
  static func repository(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// A committed fixture that cannot be used: one line naming the file and what is wrong.
struct FixtureError: Error, CustomStringConvertible { let description: String }

/// A float32 array read from a `.npy` file.
struct NPYArray {
  var shape: [Int]
  var values: [Float]
  var count: Int { values.count }

  /// Reads little-endian float32 in C order (what the fixture scripts and eam-run write).
  init(path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError(description: "\(path): cannot read") }
    let b = [UInt8](data)
    guard b.count >= 10, b[0..<6] == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else {
      throw FixtureError(description: "\(path): not a .npy file")
    }
    let (length, start) = b[6] == 1 ? (Int(b[8]) | Int(b[9]) << 8, 10)
      : (b.count >= 12 ? Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24 : -1, 12)
    guard length >= 0, length <= 65536, start + length <= b.count,
          let header = String(bytes: b[start..<(start + length)], encoding: .utf8)
    else { throw FixtureError(description: "\(path): bad header") }
    guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False"),
          let open = header.firstIndex(of: "("), let close = header[open...].firstIndex(of: ")")
    else { throw FixtureError(description: "\(path): not little-endian float32 in C order") }
    shape = try header[header.index(after: open)..<close].split(separator: ",").compactMap { part in
      let digits = part.trimmingCharacters(in: .whitespaces)
      if digits.isEmpty { return nil }
      guard let n = Int(digits), n >= 0, n <= 1 << 31 else { throw FixtureError(description: "\(path): bad shape") }
      return n
    }
    let (count, overflow) = shape.reduce((1, false)) { acc, d in
      let (m, o) = acc.0.multipliedReportingOverflow(by: d)
      return (m, acc.1 || o)
    }
    let dataStart = start + length
    guard !overflow, b.count - dataStart == count * 4 else {
      throw FixtureError(description: "\(path): \(b.count - dataStart) data bytes for shape \(shape)")
    }
    var values = [Float](repeating: 0, count: count)
    b[dataStart...].withUnsafeBytes { source in values.withUnsafeMutableBytes { $0.copyMemory(from: source) } }
    self.values = values
  }
}

/// One artifact of Tests/Fixtures/runtime/index.json (scripts/make_runtime_fixtures.py).
struct RuntimeFixture: CustomStringConvertible, Sendable {
  let artifact: String
  let model: String
  let weights: String
  let input: String
  /// timm's output for the float model (float compiles).
  let reference: String?
  /// Calibrated compiles: the fraction of attention entries frozen.
  let sparsity: Double?
  let calibrationImages: String?
  /// The runtime's committed output per kernel variant name.
  let outputs: [String: String]

  var description: String { artifact }
  var path: String { Paths.runtime.appendingPathComponent(artifact).path }
  var isCalibrated: Bool { sparsity != nil }

  /// The committed output of `variant`, or nil if none was recorded for it.
  func committedOutput(_ variant: String) throws -> NPYArray? {
    guard let file = outputs[variant] else { return nil }
    return try NPYArray(path: Paths.runtime.appendingPathComponent(file).path)
  }

  /// index.json, read once: every committed artifact in its order, or why it cannot be read.
  static let index: Result<[RuntimeFixture], any Error> = Result {
    let path = Paths.runtime.appendingPathComponent("index.json").path
    func bad(_ what: String) -> FixtureError { FixtureError(description: "\(path): \(what)") }
    guard let data = FileManager.default.contents(atPath: path) else { throw bad("cannot read") }
    guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let list = json["artifacts"] as? [[String: Any]] else { throw bad("not the index make_runtime_fixtures.py writes") }
    return try list.map { e in
      guard let artifact = e["artifact"] as? String, let model = e["model"] as? String,
            let weights = e["weights"] as? String, let input = e["input"] as? String,
            let outputs = e["outputs"] as? [String: String]
      else { throw bad("an entry lacks artifact, model, weights, input or outputs") }
      let calibration = e["calibration"] as? [String: Any]
      return RuntimeFixture(
        artifact: artifact, model: model, weights: weights, input: input, reference: e["reference"] as? String,
        sparsity: calibration?["sparsity"] as? Double, calibrationImages: calibration?["images"] as? String,
        outputs: outputs)
    }
  }

  /// Every committed artifact (none if index.json is unreadable: `IndexTests` then fails).
  static var all: [RuntimeFixture] { (try? index.get()) ?? [] }

  static func named(_ artifact: String) throws -> RuntimeFixture {
    guard let f = try index.get().first(where: { $0.artifact == artifact }) else {
      throw FixtureError(description: "\(artifact) is not in Tests/Fixtures/runtime/index.json")
    }
    return f
  }

  /// Loads the artifact.
  func load(threads: Int? = nil) throws -> Model {
    var options = LoadOptions()
    if let threads { options.threads = threads }
    return try Model(path: path, options: options)
  }

  /// The committed input batch.
  func inputBatch() throws -> NPYArray { try NPYArray(path: Paths.repository(input)) }
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

/// Attention maps copied out of the observer, from the pool's threads.
final class MapLog: @unchecked Sendable {
  struct Call {
    let block, image, head, tokens: Int
    let map: [Float]
    func rowSum(_ r: Int) -> Float { map[(r * tokens)..<((r + 1) * tokens)].reduce(0, +) }
  }
  private let lock = NSLock()
  private var stored: [Call] = []

  /// The observer that fills the log.
  var observer: AttentionObserver {
    { block, image, head, map, tokens, _, _ in
      let call = Call(block: block, image: image, head: head, tokens: tokens,
                      map: Array(UnsafeBufferPointer(start: map, count: tokens * tokens)))
      self.lock.lock(); self.stored.append(call); self.lock.unlock()
    }
  }

  var calls: [Call] { lock.lock(); defer { lock.unlock() }; return stored }
}
