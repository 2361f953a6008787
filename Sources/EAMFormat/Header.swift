/// The fixed 64-byte header at the start of every `.eam` file (FORMAT.md).
public struct Header: Equatable, Sendable {
  public static let size = 64
  public static let magic: [UInt8] = [0x89, 0x45, 0x41, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A]
  /// The format version this code writes and the newest major it reads.
  public static let currentMajor: UInt16 = 1
  public static let currentMinor: UInt16 = 3
  /// Flag: some block skips its attention (`Manifest.Residual.identity`); readers that do not
  /// know the residual rules must refuse the file.
  public static let flagResidualRules: UInt32 = 0x1
  /// The flags this reader understands.
  public static let knownFlags: UInt32 = flagResidualRules

  public var major: UInt16 = Header.currentMajor
  public var minor: UInt16 = Header.currentMinor
  public var flags: UInt32 = 0
  public var tableOffset: UInt64 = 0
  public var tableLength: UInt64 = 0
  public var manifestOffset: UInt64 = 0
  public var manifestLength: UInt64 = 0
  public var fileLength: UInt64 = 0
  public var metadataChecksum: UInt32 = 0

  public init() {}

  /// The first 56 bytes (everything the metadata checksum covers) or all 64.
  func encoded(includingChecksum: Bool = true) -> [UInt8] {
    var w = LittleEndianWriter()
    w.append(Header.magic)
    w.u16(major)
    w.u16(minor)
    w.u32(flags)
    w.u64(tableOffset)
    w.u64(tableLength)
    w.u64(manifestOffset)
    w.u64(manifestLength)
    w.u64(fileLength)
    if includingChecksum {
      w.u32(metadataChecksum)
      w.u32(0)
    }
    return w.bytes
  }

  /// Reads and checks the header's own fields; the checksum is checked by the artifact reader.
  static func decode(_ file: UnsafeRawBufferPointer) throws(FormatError) -> Header {
    guard file.count >= Header.size else {
      if file.count >= 4, Array(file[0..<4]) == Array(magic[0..<4]) {
        throw FormatError(.truncated, "truncated: \(file.count) bytes, shorter than the 64-byte header")
      }
      throw FormatError(.notAnArtifact, "not an .eam file (\(file.count) bytes, too short for the header)")
    }
    guard Array(file[0..<8]) == magic else {
      throw FormatError(.notAnArtifact, "not an .eam file (bad magic bytes)")
    }
    var r = ByteReader(file, at: 8, what: "header")
    var h = Header()
    h.major = try r.u16()
    h.minor = try r.u16()
    guard h.major <= currentMajor, h.major >= 1 else {
      throw FormatError(.unsupportedVersion,
        "format version \(h.major).\(h.minor) is newer than this reader, which reads version \(currentMajor).x")
    }
    h.flags = try r.u32()
    h.tableOffset = try r.u64()
    h.tableLength = try r.u64()
    h.manifestOffset = try r.u64()
    h.manifestLength = try r.u64()
    h.fileLength = try r.u64()
    h.metadataChecksum = try r.u32()
    let reserved = try r.u32()
    guard h.flags & ~knownFlags == 0 else { throw FormatError(.invalid, "header has unknown flags \(h.flags)") }
    guard reserved == 0 else { throw FormatError(.invalid, "header's reserved field is not zero") }
    guard h.fileLength == UInt64(file.count) else {
      if h.fileLength > UInt64(file.count) {
        throw FormatError(.truncated, "truncated: \(file.count) bytes, the header says \(h.fileLength)")
      }
      throw FormatError(.invalid, "file is \(file.count) bytes, the header says \(h.fileLength)")
    }
    guard h.tableOffset == UInt64(Header.size),
          h.tableLength <= h.fileLength - h.tableOffset,
          h.manifestOffset == h.tableOffset + h.tableLength,
          h.manifestLength <= h.fileLength - h.manifestOffset
    else { throw FormatError(.invalid, "header's table or manifest lies outside the file") }
    return h
  }
}
