import EAMFormat
import EAMPlatform

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("eam-run: needs Glibc or Darwin")
#endif

/// Minimal `.npy` I/O for eam-run: little-endian float32, C order only.
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
    guard header.contains("'descr': '<f4'") else { throw Failure(message: "\(path): eam-run reads float32 little-endian only") }
    guard header.contains("'fortran_order': False") else { throw Failure(message: "\(path): eam-run reads C order only") }
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
    guard b.count - dataStart == count * 4 else {
      throw Failure(message: "\(path): \(b.count - dataStart) data bytes for shape \(shape)")
    }
    var values = [Float](repeating: 0, count: count)
    values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[dataStart...])) }
    return (shape, values)
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
