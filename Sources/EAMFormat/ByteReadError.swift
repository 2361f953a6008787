/// What went wrong in a `LittleEndianReader`, before a module turns it into its own error type
/// and message. Offsets are relative to the reader's window, positions are indices in its bytes.
public enum ByteReadError: Error, Equatable, Sendable {
  /// A read of `needed` bytes at `offset` (`position`) with only `remaining` left.
  case truncated(needed: Int, offset: Int, remaining: Int, position: Int)
  /// A length from the file (`magnitude`, negative if `negative`) at `offset` exceeds what is left.
  case lengthPastEnd(magnitude: UInt64, negative: Bool, offset: Int, remaining: Int)
  /// A seek to `offset` outside the window of `size` bytes.
  case seekOutOfRange(offset: Int, size: Int)
  /// No `\n` within the line limit, from `offset`.
  case unterminatedLine(offset: Int)

  /// One line for the user about `what` ("safetensors header", "zip central directory").
  public func message(_ what: String) -> String {
    switch self {
    case .truncated(let needed, let offset, let remaining, _):
      return "\(what) is truncated: needed \(needed) more bytes at offset \(offset), only \(remaining) left"
    case .lengthPastEnd(let magnitude, let negative, let offset, let remaining):
      return "\(what): length \(negative ? "-" : "")\(magnitude) at offset \(offset) exceeds the \(remaining) bytes left"
    case .seekOutOfRange(let offset, let size):
      return "\(what): offset \(offset) is outside the \(size)-byte range"
    case .unterminatedLine(let offset):
      return "\(what): unterminated line at offset \(offset)"
    }
  }
}
