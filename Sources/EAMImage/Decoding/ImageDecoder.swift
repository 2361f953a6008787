#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes JPEG and PNG files into `RGBImage`, matching PIL's `Image.open(p).convert("RGB")`
/// bit for bit (see `JPEGDecoder` and `PNGDecoder` for the per-mode rules).
///
/// Like PIL's `Image.open`, EXIF orientation, embedded colour profiles and PNG gamma are not
/// applied, and only the first frame is read. Failures are `ImageError`s whose one-line
/// description starts with the file name; nothing is ever printed and the process never exits.
public enum ImageDecoder {
  /// Largest accepted width or height.
  public static let maxSide = 30_000
  /// Largest accepted pixel count (256 Mpixels).
  public static let maxPixels = 256 * 1024 * 1024

  /// Reads and decodes the file at `path`; errors name the path.
  public static func decode(path: String) throws(ImageError) -> RGBImage {
    try decode(bytes: readFile(path), name: path)
  }

  /// Decodes an in-memory JPEG or PNG, detected by its magic bytes. `name` is only used in
  /// error messages.
  public static func decode(bytes: [UInt8], name: String) throws(ImageError) -> RGBImage {
    if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF {
      return try JPEGDecoder.decode(bytes, name: name)
    }
    let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    if bytes.count >= 8, Array(bytes[0..<8]) == pngSignature {
      return try PNGDecoder.decode(bytes, name: name)
    }
    throw .unsupportedFormat(file: name)
  }

  /// Whole-file read with C stdio (keeps the module free of Foundation).
  static func readFile(_ path: String) throws(ImageError) -> [UInt8] {
    guard let file = fopen(path, "rb") else {
      throw .unreadable(file: path, reason: String(cString: strerror(errno)))
    }
    defer { fclose(file) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
      if n > 0 { result.append(contentsOf: chunk[0..<n]) }
      if n < chunk.count {
        if ferror(file) != 0 { throw .unreadable(file: path, reason: "read error") }
        break
      }
    }
    return result
  }
}
