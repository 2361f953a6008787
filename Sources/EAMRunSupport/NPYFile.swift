import EAMPlatform

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("EAMRunSupport: needs Glibc or Darwin")
#endif

/// Minimal `.npy` I/O for eam-run: reads float32 or float64 in either byte order and C or Fortran
/// order, format versions 1 to 3 (converted to row-major float32); writes little-endian float32,
/// C order. What `eamc run` accepts as input, without EAMIngest (eam-run links only the runtime).
public enum NPYFile {
  public struct Failure: Error {
    public let message: String
  }

  /// Largest header read (NumPy writes under 1 KB; versions 2 and 3 could declare 4 GB).
  public static let maxHeaderLength = 65536
  /// Largest rank read (as the checkpoint readers).
  public static let maxRank = 64

  /// Reads the array in the file at `path`.
  public static func read(_ path: String) throws(Failure) -> (shape: [Int], values: [Float]) {
    let file: FileMapping
    do throws(PlatformError) { file = try FileMapping(path: path) } catch { throw Failure(message: error.path + ": " + error.message) }
    return try decode(file.bytes, name: path)
  }

  /// Reads the array in `b` (a whole `.npy` file); `name` is the file in messages.
  public static func decode(_ b: UnsafeRawBufferPointer, name: String) throws(Failure) -> (shape: [Int], values: [Float]) {
    guard b.count >= 10, b[0] == 0x93, b[1] == 0x4E, b[2] == 0x55, b[3] == 0x4D, b[4] == 0x50, b[5] == 0x59 else {
      throw Failure(message: "\(name): not a .npy file")
    }
    let major = b[6]
    guard (1...3).contains(major) else { throw Failure(message: "\(name): .npy format version \(major) (eam-run reads 1 to 3)") }
    let headerLength: Int
    let start: Int
    if major == 1 {
      headerLength = Int(b[8]) | Int(b[9]) << 8
      start = 10
    } else {
      guard b.count >= 12 else { throw Failure(message: "\(name): truncated header") }
      headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
      start = 12
    }
    guard headerLength <= maxHeaderLength, headerLength <= b.count - start,
          let header = String(validating: b[start..<(start + headerLength)], as: UTF8.self)
    else { throw Failure(message: "\(name): bad header") }
    let text = Array(header.utf8)
    guard let descr = field(text, "descr"), let type = ElementType(descr) else {
      throw Failure(message: "\(name): eam-run reads float32 or float64 arrays, not \(field(text, "descr").map { "'\($0)'" } ?? "this dtype")")
    }
    let fortran: Bool
    switch field(text, "fortran_order") {
    case "False"?: fortran = false
    case "True"?: fortran = true
    default: throw Failure(message: "\(name): no fortran_order in header")
    }
    guard let shape = shape(text) else { throw Failure(message: "\(name): no valid shape in header") }
    var count = 1
    for d in shape {
      let (m, o) = count.multipliedReportingOverflow(by: d)
      guard !o else { throw Failure(message: "\(name): shape overflows") }
      count = m
    }
    let dataStart = start + headerLength
    let (bytes, overflow) = count.multipliedReportingOverflow(by: type.size)
    guard !overflow, b.count - dataStart == bytes else {
      throw Failure(message: "\(name): \(b.count - dataStart) data bytes for shape \(shape) of \(type.size)-byte values")
    }
    // From here every element is in the file, so `count` and the strides below (products of
    // dimensions that multiply to `count`) cannot overflow. An empty array has no strides to walk.
    guard count > 0 else { return (shape, []) }
    var values = [Float](repeating: 0, count: count)
    let data = UnsafeRawBufferPointer(rebasing: b[dataStart...])
    if !fortran {
      for i in 0..<count { values[i] = type.value(data, at: i) }
      return (shape, values)
    }
    // Fortran order: the first index varies fastest, so the file's index is walked as a
    // mixed-radix counter and element i goes to the row-major position `target`.
    var index = [Int](repeating: 0, count: shape.count)
    var rowStride = [Int](repeating: 1, count: shape.count)
    if shape.count > 1 { for k in stride(from: shape.count - 2, through: 0, by: -1) { rowStride[k] = rowStride[k + 1] * shape[k + 1] } }
    var target = 0
    for i in 0..<count {
      values[target] = type.value(data, at: i)
      var k = 0
      while k < shape.count {
        index[k] += 1
        target += rowStride[k]
        if index[k] < shape[k] { break }
        target -= rowStride[k] * shape[k]
        index[k] = 0
        k += 1
      }
    }
    return (shape, values)
  }

  /// Where `key`'s value starts in a .npy header dict (after `'key':` and spaces), if present.
  static func valueStart(_ header: [UInt8], _ key: String) -> Int? {
    let needle = Array("'\(key)':".utf8)
    guard header.count >= needle.count else { return nil }
    for at in 0...(header.count - needle.count) where header[at] == needle[0] {
      var k = 1
      while k < needle.count && header[at + k] == needle[k] { k += 1 }
      if k == needle.count {
        var p = at + needle.count
        while p < header.count && header[p] == 0x20 { p += 1 }
        return p
      }
    }
    return nil
  }

  /// The value of `key` in a .npy header dict (`'descr': '<f4'` gives `<f4`), quotes removed.
  static func field(_ header: [UInt8], _ key: String) -> String? {
    guard var p = valueStart(header, key) else { return nil }
    let quote: UInt8 = 0x27
    if p < header.count && header[p] == quote {
      p += 1
      guard let end = header[p...].firstIndex(of: quote) else { return nil }
      return String(decoding: header[p..<end], as: UTF8.self)
    }
    let end = header[p...].firstIndex { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "}") } ?? header.count
    return String(decoding: header[p..<end].filter { $0 != 0x20 }, as: UTF8.self)
  }

  /// The tuple after `'shape':`: up to `maxRank` non-negative dimensions of at most 2^31 each.
  static func shape(_ header: [UInt8]) -> [Int]? {
    guard var p = valueStart(header, "shape"), p < header.count, header[p] == UInt8(ascii: "(") else { return nil }
    p += 1
    guard let close = header[p...].firstIndex(of: UInt8(ascii: ")")) else { return nil }
    var shape: [Int] = []
    for part in header[p..<close].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
      let digits = part.filter { $0 != 0x20 }
      if digits.isEmpty { continue }
      guard shape.count < maxRank, digits.count <= 10, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
      let n = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
      guard n <= 1 << 31 else { return nil }
      shape.append(n)
    }
    return shape
  }

  /// The element types eam-run reads.
  struct ElementType {
    let size: Int
    let bigEndian: Bool

    init?(_ descr: String) {
      let order = descr.first
      switch descr.dropFirst() {
      case "f4": size = 4
      case "f8": size = 8
      default: return nil
      }
      guard order == "<" || order == ">" || order == "=" || order == "|" else { return nil }
      bigEndian = order == ">"
    }

    func value(_ data: UnsafeRawBufferPointer, at i: Int) -> Float {
      if size == 4 {
        var bits = data.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
        if bigEndian { bits = bits.byteSwapped }
        return Float(bitPattern: bits)
      }
      var bits = data.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
      if bigEndian { bits = bits.byteSwapped }
      return Float(Double(bitPattern: bits))
    }
  }

  /// Writes `values` (row-major `shape`) as a version 1, little-endian float32 `.npy` file,
  /// through a temporary file and a rename.
  public static func write(_ path: String, shape: [Int], values: [Float]) throws(Failure) {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))\(shape.count == 1 ? "," : "")), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
    bytes.append(UInt8(header.utf8.count & 0xff))
    bytes.append(UInt8(header.utf8.count >> 8))
    bytes += Array(header.utf8)
    values.withUnsafeBytes { bytes += $0 }
    let temp = path + ".tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw Failure(message: "\(path): cannot create: \(String(cString: strerror(errno)))") }
    let ok = bytes.withUnsafeBytes { raw -> Bool in
      var done = 0
      while done < raw.count {
        let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
        if n <= 0 { return false }
        done += n
      }
      return fsync(fd) == 0
    }
    close(fd)
    guard ok, rename(temp, path) == 0 else {
      unlink(temp)
      throw Failure(message: "\(path): write failed: \(String(cString: strerror(errno)))")
    }
  }
}
