#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file: the runtime's only way into the file system.
/// It can also own an in-memory copy of bytes (64-byte aligned), e.g. an artifact the compiler
/// has just laid out.
public final class FileMapping {
  public let path: String
  public let bytes: UnsafeRawBufferPointer
  private let mapped: Bool
  private let owned: UnsafeMutableRawPointer?

  /// A 64-byte-aligned copy of `bytes`, named `name` in messages.
  public init(copying source: [UInt8], name: String) {
    path = name
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
    source.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    bytes = UnsafeRawBufferPointer(start: p, count: source.count)
    mapped = false
    owned = p
  }

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
    owned = nil
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
    owned?.deallocate()
  }
}
