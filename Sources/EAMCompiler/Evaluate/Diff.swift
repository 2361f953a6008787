import EAMFormat
import EAMRuntime

/// `eamc diff A B`: two artifacts side by side: architecture, compile flags and passes, sizes and
/// sections, and (on images) how far their outputs are apart.
public struct ArtifactDiff {
  public var a: Artifact, b: Artifact
  /// (what, A's value, B's value) for every field that differs.
  public var differences: [(String, String, String)] = []
  public var onlyInA: [String] = [], onlyInB: [String] = []
  /// Sections in both whose stored bytes differ: (name, A bytes, B bytes).
  public var changedSections: [(String, Int, Int)] = []
  /// B's outputs against A's, on images (nil without images).
  public var outputs: Fidelity?

  public init(_ a: Artifact, _ b: Artifact) {
    self.a = a
    self.b = b
    let ma = a.manifest, mb = b.manifest
    func field(_ name: String, _ x: String, _ y: String) { if x != y { differences.append((name, x, y)) } }
    let x = ma.architecture, y = mb.architecture
    field("family", x.family.name, y.family.name)
    field("image size", "\(x.imageSize)", "\(y.imageSize)")
    field("patch", "\(x.patchSize)", "\(y.patchSize)")
    field("width", "\(x.embedDim)", "\(y.embedDim)")
    field("depth", "\(x.depth)", "\(y.depth)")
    field("heads per block", "\(ma.blocks.map(\.heads))", "\(mb.blocks.map(\.heads))")
    field("classes", "\(x.numClasses)", "\(y.numClasses)")
    let p = ma.preprocessing, q = mb.preprocessing
    field("preprocessing", "resize \(p.resizeShorterSide) crop \(p.cropSize) mean \(p.mean) std \(p.std)",
          "resize \(q.resizeShorterSide) crop \(q.cropSize) mean \(q.mean) std \(q.std)")
    field("source", "\(ma.compile.sourceName) sha256 \(ma.compile.sourceSHA256.prefix(16))",
          "\(mb.compile.sourceName) sha256 \(mb.compile.sourceSHA256.prefix(16))")
    field("flags", ma.compile.arguments.joined(separator: " "), mb.compile.arguments.joined(separator: " "))
    field("calibration", "\(ma.calibration.images) images \(ma.calibration.setSHA256.prefix(16))",
          "\(mb.calibration.images) images \(mb.calibration.setSHA256.prefix(16))")
    field("frozen fraction per block", ma.blocks.map { percent(Double($0.frozenFraction)) }.joined(separator: " "),
          mb.blocks.map { percent(Double($0.frozenFraction)) }.joined(separator: " "))
    field("producer", "\(ma.producer.name) \(ma.producer.version)", "\(mb.producer.name) \(mb.producer.version)")
    let sa = Dictionary(a.sections.map { ($0.name, $0) }, uniquingKeysWith: { f, _ in f })
    let sb = Dictionary(b.sections.map { ($0.name, $0) }, uniquingKeysWith: { f, _ in f })
    onlyInA = a.sections.map(\.name).filter { sb[$0] == nil }
    onlyInB = b.sections.map(\.name).filter { sa[$0] == nil }
    for s in a.sections {
      if let t = sb[s.name], t.checksum != s.checksum || t.storedLength != s.storedLength {
        changedSections.append((s.name, s.storedLength, t.storedLength))
      }
    }
  }

  /// Runs both on `images` (each with its own preprocessing) and compares B to A.
  public mutating func compareOutputs(images: [String], threads: Int?) throws(CompileError) {
    var options = LoadOptions()
    if let threads { options.threads = threads }
    let ma: Model, mb: Model
    do throws(RuntimeError) {
      ma = try Model(artifact: a, options: options)
      mb = try Model(artifact: b, options: options)
    } catch { throw CompileError(error.description) }
    guard ma.outputWidth == mb.outputWidth else {
      throw CompileError("\(b.path): outputs \(mb.outputWidth) values, \(a.path) \(ma.outputWidth): outputs cannot be compared")
    }
    let x = try Evaluation.outputs(ma, images: images, progress: Progress("running \(a.path)", total: images.count))
    let y = try Evaluation.outputs(mb, images: images, progress: Progress("running \(b.path)", total: images.count))
    outputs = Fidelity.compare(y, reference: x, width: ma.outputWidth, classifier: a.manifest.architecture.numClasses > 0)
  }

  public var identical: Bool { a.bytes.count == b.bytes.count && a.bytes.elementsEqual(b.bytes) }

  public var text: String {
    var out = ["A: \(a.path), \(mib(a.bytes.count))", "B: \(b.path), \(mib(b.bytes.count)) (B/A \(percent(Double(b.bytes.count) / Double(max(a.bytes.count, 1)))))"]
    if identical { return (out + ["identical, byte for byte"]).joined(separator: "\n") }
    if differences.isEmpty { out.append("manifest: the same architecture, flags and calibration") }
    for (what, x, y) in differences {
      out.append("\(what):")
      out.append("  A: \(x)")
      out.append("  B: \(y)")
    }
    if !onlyInA.isEmpty { out.append("sections only in A (\(onlyInA.count)): " + list(onlyInA)) }
    if !onlyInB.isEmpty { out.append("sections only in B (\(onlyInB.count)): " + list(onlyInB)) }
    if !changedSections.isEmpty {
      out.append("sections that differ (\(changedSections.count)): " + list(changedSections.map { "\($0.0) \($0.1)→\($0.2) bytes" }))
    }
    if let f = outputs {
      out.append("outputs, B against A on \(f.images) images: cosine mean \(fixed(f.meanCosine)), min \(fixed(f.minCosine)), relative error mean \(fixed(f.meanRelativeError))"
                 + (f.top1Agreement.map { ", top-1 agreement \(percent($0))" } ?? ""))
    }
    return out.joined(separator: "\n")
  }

  public var json: JSON {
    .object([
      ("a", .object([("path", .string(a.path)), ("bytes", .int(a.bytes.count))])),
      ("b", .object([("path", .string(b.path)), ("bytes", .int(b.bytes.count))])),
      ("identical", .bool(identical)),
      ("differences", .array(differences.map { .object([("field", .string($0.0)), ("a", .string($0.1)), ("b", .string($0.2))]) })),
      ("sections_only_in_a", .array(onlyInA.map { .string($0) })),
      ("sections_only_in_b", .array(onlyInB.map { .string($0) })),
      ("sections_changed", .array(changedSections.map { .object([("name", .string($0.0)), ("a_bytes", .int($0.1)), ("b_bytes", .int($0.2))]) })),
      ("outputs", outputs?.json ?? .null),
    ])
  }

  private func list(_ names: [String]) -> String {
    names.count <= 6 ? names.joined(separator: ", ") : names.prefix(6).joined(separator: ", ") + " and \(names.count - 6) more"
  }

  private func fixed(_ x: Double) -> String { String(Double(Int((x * 1e6).rounded())) / 1e6) }
}
