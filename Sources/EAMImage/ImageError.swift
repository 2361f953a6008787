/// Why an image could not be decoded. Every case names the offending file (or the `name` given
/// to `ImageDecoder.decode(bytes:name:)`) and renders as a single line.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file could not be opened or read.
  case unreadable(file: String, reason: String)
  /// The bytes are neither JPEG nor PNG (detected by magic bytes).
  case unsupportedFormat(file: String)
  /// The dimensions exceed `ImageDecoder.maxSide` / `ImageDecoder.maxPixels` (or are zero).
  case tooLarge(file: String, width: Int, height: Int)
  /// The decoder rejected the data (corrupt, truncated, unsupported variant).
  case corrupt(file: String, format: String, reason: String)

  public var description: String {
    switch self {
    case let .unreadable(file, reason):
      return "\(file): cannot read image file: \(reason)"
    case let .unsupportedFormat(file):
      return "\(file): not a JPEG or PNG image"
    case let .tooLarge(file, width, height):
      return "\(file): image dimensions \(width)x\(height) exceed the limit of "
        + "\(ImageDecoder.maxSide)x\(ImageDecoder.maxSide) and \(ImageDecoder.maxPixels) pixels"
    case let .corrupt(file, format, reason):
      let oneLine = reason.split(whereSeparator: \.isNewline).joined(separator: " ")
      return "\(file): invalid \(format) data: \(oneLine)"
    }
  }
}
