/// One entry of the section table: a named tensor or blob and where its bytes are (FORMAT.md).
public struct SectionInfo: Equatable, Sendable {
  public static let maxRank = 6
  public static let maxNameLength = 1024
  static let entrySize = 96

  public var name: String
  public var dtype: DType
  public var shape: [Int]
  public var layout: Layout
  public var compression: Compression
  /// Offset of the stored bytes in the file (a multiple of 64).
  public var offset: Int
  public var storedLength: Int
  /// Bytes after decompression.
  public var rawLength: Int
  /// CRC-32C of the stored bytes.
  public var checksum: UInt32

  public init(name: String, dtype: DType, shape: [Int], layout: Layout = .rowMajor,
              compression: Compression, offset: Int, storedLength: Int, rawLength: Int,
              checksum: UInt32) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.layout = layout
    self.compression = compression
    self.offset = offset
    self.storedLength = storedLength
    self.rawLength = rawLength
    self.checksum = checksum
  }

  /// Number of logical elements (product of the shape).
  public var elementCount: Int { shape.reduce(1, *) }
}

/// Encoding and validation of the section table.
enum SectionTable {
  static func encode(_ sections: [SectionInfo]) -> [UInt8] {
    var pool: [UInt8] = []
    var w = LittleEndianWriter()
    w.u32(UInt32(sections.count))
    let names = sections.map { Array($0.name.utf8) }
    w.u32(UInt32(names.reduce(0) { $0 + $1.count }))
    for (s, name) in zip(sections, names) {
      w.u64(UInt64(s.offset))
      w.u64(UInt64(s.storedLength))
      w.u64(UInt64(s.rawLength))
      w.u32(s.checksum)
      w.u8(s.dtype.rawValue)
      w.u8(s.compression.rawValue)
      w.u8(UInt8(s.shape.count))
      w.u8(s.layout.rawValue)
      w.u32(UInt32(pool.count))
      w.u32(UInt32(name.count))
      for i in 0..<SectionInfo.maxRank { w.u64(i < s.shape.count ? UInt64(s.shape[i]) : 0) }
      w.u64(0)
      pool.append(contentsOf: name)
    }
    w.append(pool)
    return w.bytes
  }

  /// Decodes and validates the table: every rule of FORMAT.md except the data checksums.
  static func decode(_ table: UnsafeRawBufferPointer, dataStart: Int, fileLength: Int)
    throws(FormatError) -> [SectionInfo]
  {
    var r = ByteReader(table, what: "section table")
    let count = Int(try r.u32())
    let poolLength = Int(try r.u32())
    guard count <= 65536 else { throw FormatError(.invalid, "section table claims \(count) sections (at most 65536)") }
    let (entriesBytes, o1) = count.multipliedReportingOverflow(by: SectionInfo.entrySize)
    guard !o1, 8 + entriesBytes + poolLength == table.count else {
      throw FormatError(.invalid, "section table length does not match its \(count) entries")
    }
    let pool = UnsafeRawBufferPointer(rebasing: table[(8 + entriesBytes)...])
    var sections: [SectionInfo] = []
    sections.reserveCapacity(count)
    var seen = Set<String>()
    var end = dataStart
    for index in 0..<count {
      let offset = try r.u64().asInt("section offset")
      let stored = try r.u64().asInt("section length")
      let raw = try r.u64().asInt("section raw length")
      let checksum = try r.u32()
      let dtypeCode = try r.u8()
      let compressionCode = try r.u8()
      let rank = Int(try r.u8())
      let layoutCode = try r.u8()
      let nameOffset = Int(try r.u32())
      let nameLength = Int(try r.u32())
      var dims: [Int] = []
      for i in 0..<SectionInfo.maxRank {
        let d = try r.u64().asInt("dimension")
        if i < rank { dims.append(d) }
      }
      let reserved = try r.u64()
      guard nameLength >= 1, nameLength <= SectionInfo.maxNameLength,
            nameOffset <= poolLength, nameLength <= poolLength - nameOffset,
            let name = String(validating: pool[nameOffset..<(nameOffset + nameLength)], as: UTF8.self)
      else { throw FormatError(.invalid, "section \(index) has an invalid name") }
      guard let dtype = DType(rawValue: dtypeCode) else {
        throw FormatError(.invalid, "section '\(name)' has unknown dtype \(dtypeCode)")
      }
      guard let compression = Compression(rawValue: compressionCode) else {
        throw FormatError(.invalid, "section '\(name)' has unknown compression \(compressionCode)")
      }
      guard let layout = Layout(rawValue: layoutCode) else {
        throw FormatError(.invalid, "section '\(name)' has unknown layout \(layoutCode)")
      }
      guard rank <= SectionInfo.maxRank, reserved == 0 else {
        throw FormatError(.invalid, "section '\(name)' has rank \(rank) or a non-zero reserved field")
      }
      guard layout == .rowMajor || rank == 2 else {
        throw FormatError(.invalid, "section '\(name)' is panel-packed but not 2-D")
      }
      guard let elements = layout.storedElements(shape: dims) else {
        throw FormatError(.invalid, "section '\(name)' shape \(Shape.text(dims)) overflows")
      }
      let (bytes, o2) = elements.multipliedReportingOverflow(by: dtype.size)
      guard !o2, bytes == raw else {
        throw FormatError(.invalid, "section '\(name)' raw length \(raw) does not match shape \(Shape.text(dims)) of \(dtype.name)")
      }
      guard compression != .none || stored == raw else {
        throw FormatError(.invalid, "section '\(name)' is uncompressed but stores \(stored) of \(raw) bytes")
      }
      guard offset % 64 == 0, offset >= end, offset <= fileLength, stored <= fileLength - offset else {
        throw FormatError(.invalid, "section '\(name)' lies outside the data area or overlaps another")
      }
      guard seen.insert(name).inserted else { throw FormatError(.invalid, "section '\(name)' appears twice") }
      end = offset + stored
      sections.append(SectionInfo(name: name, dtype: dtype, shape: dims, layout: layout,
                                  compression: compression, offset: offset, storedLength: stored,
                                  rawLength: raw, checksum: checksum))
    }
    return sections
  }
}
