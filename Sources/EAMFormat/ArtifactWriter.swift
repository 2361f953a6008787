#if !hasFeature(Embedded)
/// A section to write: its bytes as the runtime reads them, before compression.
public struct SectionPayload: Sendable {
  public var name: String
  public var dtype: DType
  public var shape: [Int]
  public var layout: Layout
  public var compression: Compression
  public var bytes: [UInt8]

  public init(name: String, dtype: DType, shape: [Int], layout: Layout = .rowMajor,
              compression: Compression = .none, bytes: [UInt8]) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.layout = layout
    self.compression = compression
    self.bytes = bytes
  }

  /// A row-major f32 tensor.
  public init(name: String, shape: [Int], floats: [Float], compression: Compression = .none) {
    let bytes = floats.withUnsafeBytes { Array($0) }
    self.init(name: name, dtype: .f32, shape: shape, compression: compression, bytes: bytes)
  }
}

/// Lays out a `.eam` file (compiler side: it encodes the manifest with protobuf-c) in memory (FORMAT.md). Deterministic: the same manifest and sections
/// in the same order give the same bytes.
public enum ArtifactWriter {
  public static func encode(manifest: Manifest, sections: [SectionPayload]) throws(FormatError) -> [UInt8] {
    var names = Set<String>()
    var stored: [[UInt8]] = []
    var compressions: [Compression] = []
    stored.reserveCapacity(sections.count)
    for s in sections {
      guard !s.name.isEmpty, s.name.utf8.count <= SectionInfo.maxNameLength, names.insert(s.name).inserted else {
        throw FormatError(.invalid, "section name '\(s.name)' is empty, too long or repeated")
      }
      guard s.shape.count <= SectionInfo.maxRank, s.shape.allSatisfy({ $0 >= 0 }),
            let elements = s.layout.storedElements(shape: s.shape), elements * s.dtype.size == s.bytes.count
      else { throw FormatError(.invalid, "section '\(s.name)' has \(s.bytes.count) bytes for shape \(Shape.text(s.shape)) of \(s.dtype.name)") }
      // zstd is a request: a section is stored compressed only when that makes it smaller.
      switch s.compression {
      case .none:
        stored.append(s.bytes)
        compressions.append(.none)
      case .zstd:
        let compressed = try s.bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try Zstd.compress(raw) } }.get()
        let smaller = compressed.count < s.bytes.count
        stored.append(smaller ? compressed : s.bytes)
        compressions.append(smaller ? .zstd : .none)
      }
    }
    // Section table with placeholder offsets has the same length as the final one.
    var infos = sections.indices.map { i in
      let s = sections[i], data = stored[i]
      return SectionInfo(name: s.name, dtype: s.dtype, shape: s.shape, layout: s.layout, compression: compressions[i],
                         offset: 0, storedLength: data.count, rawLength: s.bytes.count,
                         checksum: CRC32C.checksum(data))
    }
    let manifestBytes = ManifestCodec.encode(manifest)
    let tableLength = SectionTable.encode(infos).count
    var offset = align64(Header.size + tableLength + manifestBytes.count)
    for i in infos.indices {
      infos[i].offset = offset
      offset = align64(offset + infos[i].storedLength)
    }
    let fileLength = infos.last.map { $0.offset + $0.storedLength } ?? (Header.size + tableLength + manifestBytes.count)
    let table = SectionTable.encode(infos)

    var header = Header()
    header.minor = manifest.requiredMinor
    header.flags = manifest.requiredFlags
    header.tableOffset = UInt64(Header.size)
    header.tableLength = UInt64(table.count)
    header.manifestOffset = UInt64(Header.size + table.count)
    header.manifestLength = UInt64(manifestBytes.count)
    header.fileLength = UInt64(fileLength)
    var crc = CRC32C.checksum(header.encoded(includingChecksum: false))
    crc = CRC32C.checksum(table, continuing: crc)
    crc = CRC32C.checksum(manifestBytes, continuing: crc)
    header.metadataChecksum = crc

    var out = [UInt8]()
    out.reserveCapacity(fileLength)
    out.append(contentsOf: header.encoded())
    out.append(contentsOf: table)
    out.append(contentsOf: manifestBytes)
    for (info, data) in zip(infos, stored) {
      out.append(contentsOf: repeatElement(0, count: info.offset - out.count))
      out.append(contentsOf: data)
    }
    return out
  }

  static func align64(_ n: Int) -> Int { (n + 63) & ~63 }
}
#endif
