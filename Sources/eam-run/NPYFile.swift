import EAMFormat
import EAMPlatform

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("eam-run: needs Glibc or Darwin")
#endif

/// Minimal `.npy` I/O for eam-run: reads float32 or float64 in either byte order and C or Fortran
/// order (converted to row-major float32); writes little-endian float32, C order.
enum NPYFile {
  struct Failure: Error { let message: String }

  static func read(_ path: String) throws(Failure) -> (shape: [Int], values: [Float]) {
    let file: FileMapping
    do throws(PlatformError) { file = try FileMapping(path: path) } catch { throw Failure(message: error.path + ": " + error.message) }
    let b = file.bytes
    guard b.count >= 10, b[0] == 0x93, b[1] == 0x4E, b[2] == 0x55, b[3] == 0x4D, b[4] == 0x50, b[5] == 0x59 else {
      throw Failure(message: "\(path): not a .npy file")
    }
    let major = b[6]
    let headerLength: Int
    let start: Int
    if major == 1 {
      headerLength = Int(b[8]) | Int(b[9]) << 8
      start = 10
    } else {
      guard b.count >= 12 else { throw Failure(message: "\(path): truncated header") }
      headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
      start = 12
    }
    guard headerLength <= 65536, start + headerLength <= b.count,
          let header = String(validating: b[start..<(start + headerLength)], as: UTF8.self)
    else { throw Failure(message: "\(path): bad header") }
    guard let descr = field(header, "descr"), let type = ElementType(descr) else {
      throw Failure(message: "\(path): eam-run reads float32 or float64 arrays, not \(field(header, "descr") ?? "this dtype")")
    }
    let fortran: Bool
    switch field(header, "fortran_order") {
    case "False"?: fortran = false
    case "True"?: fortran = true
    default: throw Failure(message: "\(path): no fortran_order in header")
    }
    guard let open = header.firstIndex(of: "("), let close = header[open...].firstIndex(of: ")") else {
      throw Failure(message: "\(path): no shape in header")
    }
    var shape: [Int] = []
    for part in header[header.index(after: open)..<close].split(separator: ",") {
      let digits = part.filter { $0 != " " }
      guard !digits.isEmpty else { continue }
      guard let n = Int(digits), n >= 0, n <= 1 << 31 else { throw Failure(message: "\(path): bad shape") }
      shape.append(n)
    }
    var count = 1
    for d in shape {
      let (m, o) = count.multipliedReportingOverflow(by: d)
      guard !o else { throw Failure(message: "\(path): shape overflows") }
      count = m
    }
    let dataStart = start + headerLength
    let (bytes, overflow) = count.multipliedReportingOverflow(by: type.size)
    guard !overflow, b.count - dataStart == bytes else {
      throw Failure(message: "\(path): \(b.count - dataStart) data bytes for shape \(shape) of \(type.size)-byte values")
    }
    var values = [Float](repeating: 0, count: count)
    let data = UnsafeRawBufferPointer(rebasing: b[dataStart...])
    // Element i of the file goes to row-major position `target(i)`: itself in C order; in Fortran
    // order the first index varies fastest, so the file's index is walked as a mixed-radix counter.
    var index = [Int](repeating: 0, count: shape.count)
    var rowStride = [Int](repeating: 1, count: shape.count)
    if shape.count > 1 { for k in stride(from: shape.count - 2, through: 0, by: -1) { rowStride[k] = rowStride[k + 1] * shape[k + 1] } }
    var target = 0
    for i in 0..<count {
      values[fortran ? target : i] = type.value(data, at: i)
      if fortran {
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
    }
    return (shape, values)
  }

  /// The value of `key` in a .npy header dict (`'descr': '<f4'` gives `<f4`), quotes removed.
  static func field(_ header: String, _ key: String) -> String? {
    let needle = Array("'\(key)':".utf8), bytes = Array(header.utf8)
    guard bytes.count >= needle.count,
          let at = (0...(bytes.count - needle.count)).first(where: { Array(bytes[$0..<($0 + needle.count)]) == needle })
    else { return nil }
    var rest = Substring(String(decoding: bytes[(at + needle.count)...], as: UTF8.self)).drop { $0 == " " }
    if rest.first == "'" {
      rest = rest.dropFirst()
      return rest.firstIndex(of: "'").map { String(rest[..<$0]) }
    }
    let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
    return String(rest[..<end]).filter { $0 != " " }
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

  static func write(_ path: String, shape: [Int], values: [Float]) throws(Failure) {
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
