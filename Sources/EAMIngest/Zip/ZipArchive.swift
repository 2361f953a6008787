/// A read-only zip archive: the end of central directory (plain or ZIP64), the central directory,
/// and each member's local header. Only stored members can be read (there is no inflater); for
/// others `data(of:)` says which compression method was used.
///
/// Nothing the archive says is taken on trust: each local header must agree with the central
/// directory (name, compression method, sizes, CRC-32), members must not overlap each other or
/// the central directory (a central directory that grows one member into the next, as Python's
/// zipfile refuses), and every member read has its CRC-32 checked.
struct ZipArchive {
  let bytes: [UInt8]
  /// Members in central-directory order.
  private(set) var entries: [ZipEntry] = []

  static let localHeaderSignature: UInt32 = 0x0403_4b50
  static let centralSignature: UInt32 = 0x0201_4b50
  static let endSignature: UInt32 = 0x0605_4b50
  static let end64LocatorSignature: UInt32 = 0x0706_4b50
  static let end64Signature: UInt32 = 0x0606_4b50

  /// Whether `bytes` starts like a zip file.
  static func looksLikeZip(_ bytes: [UInt8]) -> Bool {
    guard let sig = bytes.readU32(at: 0) else { return false }
    return sig == localHeaderSignature || sig == endSignature
  }

  init(_ bytes: [UInt8]) throws(IngestError) {
    self.bytes = bytes
    let eocd = try Self.findEnd(bytes)
    var r = ByteReader(bytes, range: eocd..<bytes.count, what: "zip end of central directory")
    try r.skip(4)
    let disk = try r.u16(), cdDisk = try r.u16()
    var count = UInt64(try r.u16())
    let countTotal = try r.u16()
    var cdSize = UInt64(try r.u32())
    var cdOffset = UInt64(try r.u32())
    guard disk == 0 || disk == 0xFFFF, cdDisk == 0 || cdDisk == 0xFFFF else {
      throw IngestError("multi-disk zip archives are not supported")
    }
    _ = countTotal
    if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
      (count, cdSize, cdOffset) = try Self.readZip64End(bytes, eocd: eocd)
    }
    guard cdOffset <= UInt64(eocd), cdSize <= UInt64(eocd) - cdOffset else {
      throw IngestError("zip central directory (offset \(cdOffset), \(formatBytes(cdSize))) lies outside the file of \(formatBytes(bytes.count))")
    }
    // Each central record takes at least 46 bytes: a hostile count cannot make us allocate more.
    guard count <= cdSize / 46 else {
      throw IngestError("zip central directory claims \(count) entries but has room for only \(cdSize / 46)")
    }
    let cdStart = Int(cdOffset)
    var cd = ByteReader(bytes, range: cdStart..<(cdStart + Int(cdSize)), what: "zip central directory")
    entries.reserveCapacity(Int(count))
    for index in 0..<Int(count) {
      entries.append(try readCentralRecord(&cd, index: index))
    }
    try Self.checkOverlaps(entries, centralDirectory: cdStart)
  }

  /// Members, in file order, must each end before the next begins, and before the central
  /// directory.
  private static func checkOverlaps(_ entries: [ZipEntry], centralDirectory: Int) throws(IngestError) {
    let ordered = entries.sorted { $0.extent.lowerBound < $1.extent.lowerBound }
    for (i, e) in ordered.enumerated() {
      if i + 1 < ordered.count {
        let next = ordered[i + 1]
        guard e.extent.upperBound <= next.extent.lowerBound else {
          throw IngestError("zip entry \(quoted(e.name)) (bytes \(e.extent.lowerBound)..<\(e.extent.upperBound)) overlaps entry \(quoted(next.name)) at offset \(next.extent.lowerBound): overlapped entries (possible zip bomb)")
        }
      } else {
        guard e.extent.upperBound <= centralDirectory else {
          throw IngestError("zip entry \(quoted(e.name)) (bytes \(e.extent.lowerBound)..<\(e.extent.upperBound)) overlaps the central directory at offset \(centralDirectory): overlapped entries (possible zip bomb)")
        }
      }
    }
  }

  /// The position of the end-of-central-directory record (searched from the end, past a comment).
  private static func findEnd(_ bytes: [UInt8]) throws(IngestError) -> Int {
    guard bytes.count >= 22 else {
      throw IngestError("zip archive is truncated: \(formatBytes(bytes.count)) is too short for an end of central directory record")
    }
    let lowest = max(0, bytes.count - 22 - 0xFFFF)
    var p = bytes.count - 22
    while p >= lowest {
      if bytes[p] == 0x50, bytes.readU32(at: p) == endSignature,
         let commentLength = bytes.readU16(at: p + 20), p + 22 + Int(commentLength) == bytes.count {
        return p
      }
      p -= 1
    }
    throw IngestError("zip archive is truncated or damaged: no end of central directory record")
  }

  private static func readZip64End(_ bytes: [UInt8], eocd: Int) throws(IngestError) -> (UInt64, UInt64, UInt64) {
    let locator = eocd - 20
    guard locator >= 0, bytes.readU32(at: locator) == end64LocatorSignature,
          let recordOffset = bytes.readU64(at: locator + 8) else {
      throw IngestError("zip archive needs ZIP64 fields but has no ZIP64 end of central directory locator")
    }
    guard recordOffset <= UInt64(locator), bytes.readU32(at: Int(recordOffset)) == end64Signature else {
      throw IngestError("zip ZIP64 end of central directory record at offset \(recordOffset) is missing or damaged")
    }
    var r = ByteReader(bytes, range: Int(recordOffset)..<locator, what: "zip ZIP64 end of central directory")
    try r.skip(4 + 8 + 2 + 2 + 4 + 4)
    let count = try r.u64()
    _ = try r.u64()
    let size = try r.u64()
    let offset = try r.u64()
    return (count, size, offset)
  }

  private func readCentralRecord(_ cd: inout ByteReader, index: Int) throws(IngestError) -> ZipEntry {
    guard try cd.u32() == Self.centralSignature else {
      throw IngestError("zip central directory record \(index) has a bad signature")
    }
    try cd.skip(2 + 2)
    let flags = try cd.u16()
    let method = try cd.u16()
    try cd.skip(2 + 2)
    let crc = try cd.u32()
    var compressed = UInt64(try cd.u32())
    var uncompressed = UInt64(try cd.u32())
    let nameLength = Int(try cd.u16())
    let extraLength = Int(try cd.u16())
    let commentLength = Int(try cd.u16())
    try cd.skip(2 + 2 + 4)
    var localOffset = UInt64(try cd.u32())
    let nameBytes = try cd.take(nameLength)
    let name = String(decoding: nameBytes, as: UTF8.self)
    // ZIP64 extended information: the 64-bit values for the fields set to 0xFFFFFFFF, in order.
    var extra = ByteReader(bytes, range: try cd.range(extraLength), what: "zip extra field of \(quoted(name))")
    while extra.remaining >= 4 {
      let id = try extra.u16()
      let size = Int(try extra.u16())
      var field = ByteReader(bytes, range: try extra.range(size), what: "zip ZIP64 field of \(quoted(name))")
      if id == 0x0001 {
        if uncompressed == 0xFFFF_FFFF { uncompressed = try field.u64() }
        if compressed == 0xFFFF_FFFF { compressed = try field.u64() }
        if localOffset == 0xFFFF_FFFF { localOffset = try field.u64() }
      }
    }
    try cd.skip(commentLength)
    if flags & 1 != 0 {
      throw IngestError("zip entry \(quoted(name)) is encrypted")
    }
    // The local header repeats name, method, sizes and CRC-32, and has its own extra field
    // (torch pads with it): it must agree with the central directory.
    guard localOffset <= UInt64(bytes.count) else {
      throw IngestError("zip entry \(quoted(name)): local header offset \(localOffset) is beyond the end of the file (\(formatBytes(bytes.count)))")
    }
    var local = ByteReader(bytes, range: Int(localOffset)..<bytes.count, what: "zip local header of \(quoted(name))")
    guard try local.u32() == Self.localHeaderSignature else {
      throw IngestError("zip entry \(quoted(name)): no local header at offset \(localOffset)")
    }
    try local.skip(2)
    let localFlags = try local.u16()
    let localMethod = try local.u16()
    try local.skip(2 + 2)
    let localCRC = try local.u32()
    var localCompressed = UInt64(try local.u32())
    var localUncompressed = UInt64(try local.u32())
    let localNameLength = Int(try local.u16())
    let localExtraLength = Int(try local.u16())
    let localName = try local.take(localNameLength)
    guard localName.elementsEqual(nameBytes) else {
      throw IngestError("zip entry \(quoted(name)): local header names \(quoted(String(decoding: localName, as: UTF8.self))) instead")
    }
    var localExtra = ByteReader(bytes, range: try local.range(localExtraLength), what: "zip local extra field of \(quoted(name))")
    var localZip64 = false
    while localExtra.remaining >= 4 {
      let id = try localExtra.u16()
      let size = Int(try localExtra.u16())
      var field = ByteReader(bytes, range: try localExtra.range(size), what: "zip local ZIP64 field of \(quoted(name))")
      if id == 0x0001 {
        localZip64 = true
        if localUncompressed == 0xFFFF_FFFF { localUncompressed = try field.u64() }
        if localCompressed == 0xFFFF_FFFF { localCompressed = try field.u64() }
      }
    }
    func disagree(_ what: String, _ l: String, _ c: String) -> IngestError {
      IngestError("zip entry \(quoted(name)): the local header's \(what) (\(l)) disagrees with the central directory's (\(c))")
    }
    guard localMethod == method else {
      throw disagree("compression method", ZipEntry.methodName(localMethod), ZipEntry.methodName(method))
    }
    // With a data descriptor (flag bit 3) the local CRC and sizes may be zero; otherwise they must
    // be the central directory's.
    let deferred = localFlags & 0x8 != 0
    if !(deferred && localCompressed == 0) && localCompressed != compressed {
      throw disagree("compressed size", "\(localCompressed)", "\(compressed)")
    }
    if !(deferred && localUncompressed == 0) && localUncompressed != uncompressed {
      throw disagree("size", "\(localUncompressed)", "\(uncompressed)")
    }
    if !(deferred && localCRC == 0) && localCRC != crc {
      throw disagree("CRC-32", hex(localCRC), hex(crc))
    }
    guard compressed <= UInt64(local.remaining) else {
      throw IngestError("zip entry \(quoted(name)) is truncated: \(formatBytes(compressed)) of data, \(formatBytes(local.remaining)) left in the file")
    }
    let start = local.position
    if method == 0 && compressed != uncompressed {
      throw IngestError("zip entry \(quoted(name)) is stored but its sizes differ (\(compressed) vs \(uncompressed))")
    }
    let dataEnd = start + Int(compressed)
    // The data descriptor: an optional signature, the CRC-32, and two sizes (8 bytes each with ZIP64).
    var end = dataEnd
    if deferred {
      let signed = bytes.readU32(at: dataEnd) == 0x0807_4b50
      end += (signed ? 4 : 0) + 4 + (localZip64 ? 16 : 8)
    }
    return ZipEntry(name: name, method: method, dataRange: start..<dataEnd, uncompressedSize: uncompressed,
                    crc32: crc, extent: Int(localOffset)..<end)
  }

  /// The bytes of a stored member, as a range of `bytes`, after checking their CRC-32.
  func data(of entry: ZipEntry) throws(IngestError) -> Range<Int> {
    guard entry.isStored else {
      throw IngestError("zip entry \(quoted(entry.name)) is \(ZipEntry.methodName(entry.method)); only stored (uncompressed) entries can be read")
    }
    let crc = CRC32.checksum(bytes, range: entry.dataRange)
    #if !FUZZING  // Fuzzers cannot forge checksums: there, the checksum is computed but not enforced.
    guard crc == entry.crc32 else {
      throw IngestError("zip entry \(quoted(entry.name)) is damaged: its CRC-32 is \(hex(crc)), the archive says \(hex(entry.crc32))")
    }
    #endif
    _ = crc
    return entry.dataRange
  }
}

/// `0x0123abcd`.
func hex(_ v: UInt32) -> String {
  let digits = String(v, radix: 16)
  return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
