/// The container's reader: `LittleEndianReader` over a mapped file, failing with `FormatError`.
typealias ByteReader = LittleEndianReader<UnsafeRawBufferPointer, FormatError>

extension LittleEndianReader where Bytes == UnsafeRawBufferPointer, Failure == FormatError {
  /// Reads `buffer` from `position`; `what` names it in messages ("header", "section table").
  init(_ buffer: UnsafeRawBufferPointer, at position: Int = 0, what: String) {
    self.init(buffer, offset: position) { error in
      switch error {
      case .truncated(_, _, _, let position): FormatError(.truncated, "\(what) is truncated at byte \(position)")
      default: FormatError(.invalid, error.message(what))
      }
    }
  }
}

extension UInt64 {
  /// This value as an `Int`, or a `FormatError` if it does not fit.
  func asInt(_ what: String) throws(FormatError) -> Int {
    guard self <= UInt64(Int.max) else { throw FormatError(.invalid, "\(what) \(self) is out of range") }
    return Int(self)
  }
}
