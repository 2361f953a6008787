import EAMFormat

/// The checkpoint parsers' reader: `LittleEndianReader` over a file's bytes, failing with
/// `IngestError`.
typealias ByteReader = LittleEndianReader<[UInt8], IngestError>

extension LittleEndianReader where Bytes == [UInt8], Failure == IngestError {
  /// Reads `range` of `bytes` (all of it by default); `what` names it in messages
  /// ("safetensors header", "zip central directory").
  init(_ bytes: [UInt8], range: Range<Int>? = nil, what: String) {
    self.init(bytes, range: range) { IngestError($0.message(what)) }
  }
}
