import EAMPlatform

/// A validated `.eam` artifact over a byte buffer (usually a `FileMapping`).
///
/// Opening checks the header, the metadata checksum, the section table and the manifest; a
/// section's own checksum is checked when its bytes are asked for (unless `verify` is false).
public final class Artifact {
  /// The file, for messages.
  public let path: String
  public let header: Header
  public let sections: [SectionInfo]
  public let manifest: Manifest
  /// The whole file.
  public let bytes: UnsafeRawBufferPointer
  private let mapping: FileMapping?
  private let index: [String: Int]

  /// Maps and validates the artifact at `path`.
  public convenience init(path: String) throws(FormatError) {
    let mapping: FileMapping
    do throws(PlatformError) { mapping = try FileMapping(path: path) } catch {
      throw FormatError(.io, error.message, path: path)
    }
    try self.init(bytes: mapping.bytes, path: path, owner: mapping)
  }

  /// Validates an artifact held in memory (copied into an aligned buffer).
  public convenience init(bytes: [UInt8], name: String) throws(FormatError) {
    let storage = FileMapping(copying: bytes, name: name)
    try self.init(bytes: storage.bytes, path: name, owner: storage)
  }

  /// Validates an artifact in caller-owned memory (flash-mapped bytes on a device), used in place:
  /// `bytes` must stay valid and unchanged while the artifact is in use.
  public convenience init(borrowing bytes: UnsafeRawBufferPointer, name: String) throws(FormatError) {
    try self.init(bytes: bytes, path: name, owner: nil)
  }

  /// Validates an artifact in `bytes`, which must outlive this object unless `owner` keeps them.
  public init(bytes: UnsafeRawBufferPointer, path: String, owner: FileMapping? = nil) throws(FormatError) {
    self.path = path
    self.bytes = bytes
    self.mapping = owner
    do throws(FormatError) {
      let header = try Header.decode(bytes)
      let tableStart = Int(header.tableOffset)
      let tableEnd = tableStart + Int(header.tableLength)
      let manifestEnd = tableEnd + Int(header.manifestLength)
      var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<56]))
      crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[tableStart..<manifestEnd]), continuing: crc)
      guard crc == header.metadataChecksum else {
        throw FormatError(.metadataChecksum, "header, section table or manifest is damaged (metadata checksum mismatch)")
      }
      let sections = try SectionTable.decode(UnsafeRawBufferPointer(rebasing: bytes[tableStart..<tableEnd]),
                                             dataStart: manifestEnd, fileLength: bytes.count)
      let manifest = try ManifestCodec.decode(UnsafeRawBufferPointer(rebasing: bytes[tableEnd..<manifestEnd]))
      self.header = header
      self.sections = sections
      self.manifest = manifest
      var index: [String: Int] = [:]
      for (i, s) in sections.enumerated() { index[s.name] = i }
      self.index = index
    } catch {
      throw error.at(path)
    }
  }

  /// The section called `name`, if any.
  public func section(_ name: String) -> SectionInfo? {
    index[name].map { sections[$0] }
  }

  /// The stored bytes of a section, checked against its checksum when `verify` is true.
  public func storedBytes(_ s: SectionInfo, verify: Bool = true) throws(FormatError) -> UnsafeRawBufferPointer {
    let stored = UnsafeRawBufferPointer(rebasing: bytes[s.offset..<(s.offset + s.storedLength)])
    if verify, CRC32C.checksum(stored) != s.checksum {
      throw FormatError(.sectionChecksum, "section '\(s.name)' checksum mismatch", path: path)
    }
    return stored
  }

  /// The raw (decompressed) bytes of a section, as a new array.
  public func rawBytes(_ s: SectionInfo, verify: Bool = true) throws(FormatError) -> [UInt8] {
    let stored = try storedBytes(s, verify: verify)
    switch s.compression {
    case .none:
      return Array(stored)
    case .zstd:
      // The declared size is checked against the frame before it is allocated.
      do throws(FormatError) { try Zstd.checkFrame(stored, declares: s.rawLength) } catch {
        throw FormatError(.compression, "section '\(s.name)': \(error.message)", path: path)
      }
      var out = [UInt8](repeating: 0, count: s.rawLength)
      let result = out.withUnsafeMutableBytes { dst in
        Result { () throws(FormatError) in try Zstd.decompress(stored, into: dst) }
      }
      if case .failure(let error) = result {
        throw FormatError(.compression, "section '\(s.name)': \(error.message)", path: path)
      }
      return out
    }
  }

  /// Checks every section's checksum and decompression; returns the first failure.
  public func verifyAll() throws(FormatError) {
    for s in sections {
      let stored = try storedBytes(s, verify: true)
      if s.compression == .zstd { _ = try rawBytes(s, verify: false) }
      _ = stored
    }
  }
}
