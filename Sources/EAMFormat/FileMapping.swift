#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file: the runtime's only way into the file system.
public final class FileMapping {
  public let path: String
  public let bytes: UnsafeRawBufferPointer
  private let mapped: Bool

  /// Maps `path` read-only. An empty file maps to an empty buffer.
  public init(path: String) throws(FormatError) {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FormatError(.io, "cannot open: \(String(cString: strerror(errno)))", path: path) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FormatError(.io, "cannot stat: \(String(cString: strerror(errno)))", path: path) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw FormatError(.io, "not a regular file", path: path) }
    let size = Int(st.st_size)
    if size == 0 {
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      mapped = false
      return
    }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
      throw FormatError(.io, "cannot map: \(String(cString: strerror(errno)))", path: path)
    }
    bytes = UnsafeRawBufferPointer(start: p, count: size)
    mapped = true
  }

  deinit {
    if mapped, let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
  }
}
