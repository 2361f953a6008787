#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file into memory with POSIX `open`/`fstat`/`read`.
enum FileLoader {
  static func load(_ path: String) throws(IngestError) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw IngestError(file: path, "cannot open: \(errnoText())") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw IngestError(file: path, "cannot stat: \(errnoText())") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw IngestError(file: path, "not a regular file") }
    let size = Int(info.st_size)
    guard size >= 0 else { throw IngestError(file: path, "bad file size") }
    var failure: String?
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
      var done = 0
      guard let base = buffer.baseAddress else {
        initialized = 0
        return
      }
      while done < size {
        let n = read(fd, base + done, size - done)
        if n < 0 {
          if errno == EINTR { continue }
          failure = "read failed: \(errnoText())"
          break
        }
        if n == 0 { break }
        done += n
      }
      initialized = done
    }
    if let failure { throw IngestError(file: path, failure) }
    guard bytes.count == size else {
      throw IngestError(file: path, "file shrank while reading (\(bytes.count) of \(size) bytes)")
    }
    return bytes
  }

  private static func errnoText() -> String {
    String(cString: strerror(errno))
  }
}
