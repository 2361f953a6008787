import Foundation
import Testing
@testable import EAMFormat
import EAMRuntime

/// Artifacts with a changed manifest and valid checksums, as an attacker who recomputes them
/// would make: every section is kept (its raw bytes, compression and layout), the manifest is
/// re-encoded (`ArtifactWriter`), and its protobuf fields optionally edited to set values the
/// `Manifest` struct cannot hold (an enum out of range). Inside a message the last value of a
/// field wins (protobuf), so bytes appended to a message's body override.
enum Rebuild {
  static func sections(of artifact: Artifact) throws -> [SectionPayload] {
    try artifact.sections.map { s in
      SectionPayload(name: s.name, dtype: s.dtype, shape: s.shape, layout: s.layout, compression: s.compression,
                     bytes: try artifact.rawBytes(s))
    }
  }

  /// `manifest` over `sections`, checksums correct; `wire` then edits the manifest's top-level
  /// protobuf fields (field number, body), for values the `Manifest` struct cannot hold.
  static func bytes(_ manifest: Manifest, sections: [SectionPayload],
                    wire: ((inout [(field: Int, body: [UInt8])]) -> Void)? = nil) throws -> [UInt8] {
    let written = try ArtifactWriter.encode(manifest: manifest, sections: sections)
    guard let wire else { return written }
    var fields = topLevelFields(ManifestCodec.encode(manifest))
    wire(&fields)
    return try replacingManifest(written, with: fields.flatMap { message($0.field, $0.body) })
  }

  /// The manifest's top-level fields (all length-delimited messages in eam.proto).
  static func topLevelFields(_ bytes: [UInt8]) -> [(field: Int, body: [UInt8])] {
    var out: [(field: Int, body: [UInt8])] = []
    var p = 0
    func read() -> Int {
      var v = 0, shift = 0
      while true {
        let b = bytes[p]
        p += 1
        v |= Int(b & 0x7F) << shift
        shift += 7
        if b < 0x80 { return v }
      }
    }
    while p < bytes.count {
      let key = read()
      precondition(key & 7 == 2, "top-level manifest fields are messages")
      let n = read()
      out.append((key >> 3, Array(bytes[p..<(p + n)])))
      p += n
    }
    return out
  }

  /// The same file with another manifest: the data area moves by a multiple of 64, the table's
  /// offsets with it; the header and its checksum are rewritten.
  static func replacingManifest(_ file: [UInt8], with manifest: [UInt8]) throws -> [UInt8] {
    let a = try Artifact(bytes: file, name: "rebuild")
    var header = a.header
    let oldEnd = Int(header.manifestOffset + header.manifestLength)
    let oldData = ArtifactWriter.align64(oldEnd)
    let newEnd = Int(header.manifestOffset) + manifest.count
    let shift = ArtifactWriter.align64(newEnd) - oldData
    let infos = a.sections.map { s -> SectionInfo in
      var t = s
      t.offset += shift
      return t
    }
    let table = SectionTable.encode(infos)
    header.manifestLength = UInt64(manifest.count)
    header.fileLength = UInt64(file.count + shift)
    var crc = CRC32C.checksum(header.encoded(includingChecksum: false))
    crc = CRC32C.checksum(table, continuing: crc)
    crc = CRC32C.checksum(manifest, continuing: crc)
    header.metadataChecksum = crc
    var out = header.encoded() + table + manifest
    out += [UInt8](repeating: 0, count: ArtifactWriter.align64(newEnd) - out.count)
    if oldData < file.count { out += file[oldData...] }
    return out
  }

  // Protobuf wire bytes (schemas/eam.proto field numbers).
  static func varint(_ v: UInt64) -> [UInt8] {
    var v = v, out: [UInt8] = []
    repeat {
      out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
      v >>= 7
    } while v > 0
    return out
  }

  static func varintField(_ field: Int, _ v: UInt64) -> [UInt8] { varint(UInt64(field << 3)) + varint(v) }

  static func message(_ field: Int, _ body: [UInt8]) -> [UInt8] { varint(UInt64(field << 3 | 2)) + varint(UInt64(body.count)) + body }
}

/// What loading and running an artifact did.
enum Outcome: Equatable, CustomStringConvertible {
  /// A one-line error that names the file.
  case refused(String)
  case output([Float])
  /// Anything else: an error without the file's name or with a line break, another error type.
  case bad(String)

  var description: String {
    switch self {
    case .refused(let m): "refused: \(m)"
    case .output: "ran"
    case .bad(let m): "BAD: \(m)"
    }
  }

  var isRefused: Bool { if case .refused = self { true } else { false } }
}

/// A committed fixture, loaded once, with its input and its output on this machine.
struct Baseline {
  let fixture: RuntimeFixture
  let artifact: Artifact
  let sections: [SectionPayload]
  let input: NPYArray
  let reference: [Float]

  init(_ name: String) throws {
    fixture = try RuntimeFixture.named(name)
    artifact = try Artifact(path: fixture.path)
    sections = try Rebuild.sections(of: artifact)
    input = try fixture.inputBatch()
    var options = LoadOptions()
    options.threads = 1
    reference = try Model(artifact: artifact, options: options).run(input.values, batch: input.shape[0])
  }

  var manifest: Manifest { artifact.manifest }

  /// Loads `bytes` as `name` (one thread unless told, `budget`) and runs the committed input.
  func outcome(_ bytes: [UInt8], name: String = "mutated.eam", budget: Int = 256 << 20, threads: Int = 1,
               check: ((Model) -> Void)? = nil) -> Outcome {
    do {
      var options = LoadOptions()
      options.threads = threads
      options.memoryBudget = budget
      let model = try Model(artifact: try Artifact(bytes: bytes, name: name), options: options)
      let out = try model.run(input.values, batch: input.shape[0])
      check?(model)
      return .output(out)
    } catch let e as RuntimeError {
      return Self.classify(e.description, name)
    } catch let e as FormatError {
      return Self.classify(e.description, name)
    } catch {
      return .bad("\(type(of: error)): \(error)")
    }
  }

  static func classify(_ line: String, _ name: String) -> Outcome {
    line.hasPrefix(name + ": ") && !line.contains("\n") ? .refused(line) : .bad(line)
  }

  /// The fixture with `change` applied to its manifest (then `wire` to its protobuf fields).
  func outcome(budget: Int = 256 << 20, _ change: (inout Manifest) -> Void = { _ in },
               wire: ((inout [(field: Int, body: [UInt8])]) -> Void)? = nil) throws -> Outcome {
    var m = manifest
    change(&m)
    return outcome(try Rebuild.bytes(m, sections: sections, wire: wire), budget: budget)
  }
}
