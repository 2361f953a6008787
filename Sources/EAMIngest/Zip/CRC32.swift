/// CRC-32 as zip, gzip and PNG use it (reflected polynomial 0xEDB88320, initial value and final
/// XOR 0xFFFFFFFF), eight bytes per step with eight 256-entry tables (slicing by 8). Byte loads
/// and one table pointer per slice keep it fast in debug builds too (about 4 ns a byte).
enum CRC32 {
  /// `tables[k * 256 + b]`: the CRC register after byte b followed by k zero bytes.
  static let tables: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 8 * 256)
    for b in 0..<256 {
      var c = UInt32(b)
      for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
      t[b] = c
    }
    for k in 1..<8 {
      for b in 0..<256 {
        let previous = t[(k - 1) * 256 + b]
        t[k * 256 + b] = (previous >> 8) ^ t[Int(previous & 0xFF)]
      }
    }
    return t
  }()

  /// The CRC-32 of `bytes[range]`.
  static func checksum(_ bytes: [UInt8], range: Range<Int>) -> UInt32 {
    precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
    var crc: UInt32 = 0xFFFF_FFFF
    bytes.withUnsafeBufferPointer { buffer in
      tables.withUnsafeBufferPointer { tp in
        guard let all = buffer.baseAddress, let t = tp.baseAddress else { return }
        let base = all + range.lowerBound
        let n = range.count
        let t1 = t + 256, t2 = t + 512, t3 = t + 768, t4 = t + 1024, t5 = t + 1280, t6 = t + 1536, t7 = t + 1792
        var i = 0
        while i &+ 8 <= n {
          let p = base + i
          let b0 = UInt32(p[0]) ^ (crc & 0xFF), b1 = UInt32(p[1]) ^ ((crc >> 8) & 0xFF)
          let b2 = UInt32(p[2]) ^ ((crc >> 16) & 0xFF), b3 = UInt32(p[3]) ^ (crc >> 24)
          crc = t7[Int(b0)] ^ t6[Int(b1)] ^ t5[Int(b2)] ^ t4[Int(b3)]
            ^ t3[Int(p[4])] ^ t2[Int(p[5])] ^ t1[Int(p[6])] ^ t[Int(p[7])]
          i &+= 8
        }
        while i < n {
          crc = (crc >> 8) ^ t[Int((crc ^ UInt32(base[i])) & 0xFF)]
          i &+= 1
        }
      }
    }
    return crc ^ 0xFFFF_FFFF
  }
}
