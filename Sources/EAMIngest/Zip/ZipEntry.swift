/// One member of a zip archive, as listed by the central directory and checked against its local
/// header.
struct ZipEntry {
  /// The member's name (path inside the archive).
  var name: String
  /// 0 = stored, 8 = deflated, ...
  var method: UInt16
  /// Where the member's (possibly compressed) bytes are in the file.
  var dataRange: Range<Int>
  /// The size after decompression.
  var uncompressedSize: UInt64
  /// CRC-32 of the uncompressed bytes, as the central directory records it.
  var crc32: UInt32
  /// The whole member in the file: local header, data and data descriptor.
  var extent: Range<Int>

  var isStored: Bool { method == 0 }

  static func methodName(_ m: UInt16) -> String {
    switch m {
    case 0: "stored"
    case 8: "deflated"
    case 9: "deflate64"
    case 12: "bzip2"
    case 14: "LZMA"
    case 93: "zstd"
    case 95: "xz"
    default: "method \(m)"
    }
  }
}
