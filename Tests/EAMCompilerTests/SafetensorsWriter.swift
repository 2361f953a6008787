import Foundation
import EAMIngest

/// Writes float32 tensors as a safetensors file (8-byte little-endian header length, JSON
/// header, data), for tests that build checkpoints in memory.
enum SafetensorsWriter {
  static func write(_ tensors: [String: Tensor], to path: String) throws {
    let names = tensors.keys.sorted()
    var entries: [String] = []
    var offset = 0
    for name in names {
      let t = tensors[name]!
      let end = offset + 4 * t.count
      entries.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var data = Data(capacity: 8 + header.count + offset)
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: header)
    for name in names { tensors[name]!.values.withUnsafeBytes { data.append(contentsOf: $0) } }
    try data.write(to: URL(fileURLWithPath: path))
  }
}
