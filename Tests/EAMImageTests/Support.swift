import Foundation
import Testing

@testable import EAMImage

/// Test helpers: fixture locations, a minimal `.npy` reader and the checksum used by
/// `scripts/make_image_fixtures.py`.
enum Fixtures {
  static var root: String { Bundle.module.resourcePath! + "/Fixtures" }

  static func path(_ relative: String) -> String { root + "/" + relative }

  /// `/work/shared/images/calib`, located relative to this file (package root is three levels up).
  static var calibDirectory: String {
    let packageRoot = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return packageRoot.appendingPathComponent("../shared/images/calib").standardized.path
  }
}

/// A loaded `.npy` array: shape plus raw little-endian payload.
struct NPYArray {
  var shape: [Int]
  var descr: String
  var payload: [UInt8]

  init(path: String) throws {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    guard data.count > 10, data[0] == 0x93, Array(data[1..<6]) == Array("NUMPY".utf8) else {
      throw NPYError.malformed(path)
    }
    let major = data[6]
    let headerLength: Int, headerStart: Int
    if major == 1 {
      headerLength = Int(data[8]) | Int(data[9]) << 8
      headerStart = 10
    } else {
      headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
      headerStart = 12
    }
    let header = String(decoding: data[headerStart..<(headerStart + headerLength)], as: UTF8.self)
    guard header.contains("'fortran_order': False"),
          let d = header.range(of: "'descr': '"), let s = header.range(of: "'shape': (")
    else { throw NPYError.malformed(path) }
    descr = String(header[d.upperBound...].prefix { $0 != "'" })
    shape = header[s.upperBound...].prefix { $0 != ")" }.split(separator: ",")
      .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    payload = Array(data[(headerStart + headerLength)...])
  }

  var uint8: [UInt8] {
    precondition(descr == "|u1")
    return payload
  }

  var float32: [Float] {
    precondition(descr == "<f4")
    return payload.withUnsafeBytes { raw in
      (0..<(payload.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
    }
  }
}

enum NPYError: Error { case malformed(String) }

/// sum((b + 1) * (i + 1) * K) mod 2^64, as in the fixture script.
func checksum(_ bytes: [UInt8]) -> UInt64 {
  bytes.withUnsafeBufferPointer { buffer in
    var h: UInt64 = 0, weight: UInt64 = 0
    for b in buffer {
      weight = weight &+ 0x9E37_79B9_7F4A_7C15  // (i + 1) * K
      h = h &+ (UInt64(b) &+ 1) &* weight
    }
    return h
  }
}

/// Largest absolute difference and number of differing samples.
func compare(_ a: [UInt8], _ b: [UInt8]) -> (maxDiff: Int, differing: Int) {
  var maxDiff = 0, differing = 0
  for (x, y) in zip(a, b) where x != y {
    maxDiff = max(maxDiff, abs(Int(x) - Int(y)))
    differing += 1
  }
  return (maxDiff, differing)
}
