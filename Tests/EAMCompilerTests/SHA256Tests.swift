import Foundation
import Testing
@testable import EAMCompiler

/// The compiler's SHA-256 (kept in the tree: no crypto package to build on a fresh clone) against
/// hashlib on the FIPS 180-4 examples and block-boundary lengths (scripts/make_sha256_vectors.py).
@Suite struct SHA256KnownAnswers {
  struct Vector: Decodable {
    let name: String
    let hex: String
    let repeats: Int
    let sha256: String
    enum CodingKeys: String, CodingKey { case name, hex, repeats = "repeat", sha256 }
  }

  static let vectors: [Vector] = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/sha256_vectors.json")
    return (try? JSONDecoder().decode([Vector].self, from: Data(contentsOf: url))) ?? []
  }()

  static func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
      let j = hex.index(i, offsetBy: 2)
      out.append(UInt8(hex[i..<j], radix: 16)!)
      i = j
    }
    return out
  }

  @Test func allVectorsMatch() {
    #expect(Self.vectors.count >= 16)
    for v in Self.vectors {
      let message = Self.bytes(v.hex)
      var h = SHA256()
      // Fed in uneven pieces, so that buffering across updates is exercised too.
      for r in 0..<v.repeats {
        message.withUnsafeBytes { raw in
          var start = 0, step = 1 + (r % 7)
          while start < raw.count {
            let end = min(raw.count, start + step)
            h.update(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
            start = end
            step = step * 2 + 1
          }
        }
      }
      #expect(h.finalizeHex() == v.sha256, "\(v.name)")
      if v.repeats == 1 { #expect(SHA256.hex(message) == v.sha256, "\(v.name) one-shot") }
    }
  }
}
