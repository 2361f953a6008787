/// Why a file could not be opened or mapped: one line, with the path.
public struct PlatformError: Error, Sendable {
  public var path: String
  public var message: String
  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }
}

/// The bytes of an artifact: a read-only memory map of a whole file, or a 64-byte-aligned copy of
/// bytes held in memory (what a device without a file system has, or an artifact the compiler
/// has just laid out).
public final class FileMapping {
  public let path: String
  public let bytes: UnsafeRawBufferPointer
  private let mapped: Bool
  private let owned: UnsafeMutableRawPointer?

  /// A 64-byte-aligned copy of `source`, named `name` in messages.
  public init(copying source: UnsafeRawBufferPointer, name: String) {
    path = name
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
    if let base = source.baseAddress, source.count > 0 { p.copyMemory(from: base, byteCount: source.count) }
    bytes = UnsafeRawBufferPointer(start: p, count: source.count)
    mapped = false
    owned = p
  }

  public convenience init(copying source: [UInt8], name: String) {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
    source.withUnsafeBytes { if let base = $0.baseAddress, $0.count > 0 { p.copyMemory(from: base, byteCount: $0.count) } }
    self.init(owning: p, count: source.count, name: name)
  }

  /// Takes ownership of `count` bytes at `p` (allocated with `UnsafeMutableRawPointer.allocate`).
  init(owning p: UnsafeMutableRawPointer, count: Int, name: String) {
    path = name
    bytes = UnsafeRawBufferPointer(start: p, count: count)
    mapped = false
    owned = p
  }

  /// Maps `path` read-only. An empty file maps to an empty buffer.
  public init(path: String) throws(PlatformError) {
    self.path = path
    #if os(none)
    throw PlatformError(path: path, message: "no file system on this target: load the artifact from memory")
    #else
    let fd = Syscalls.openRead(path)
    guard fd >= 0 else { throw PlatformError(path: path, message: "cannot open: " + Syscalls.errorText) }
    defer { Syscalls.close(fd) }
    let (size64, status) = Syscalls.regularFileSize(fd)
    guard status != -1 else { throw PlatformError(path: path, message: "cannot stat: " + Syscalls.errorText) }
    guard status == 0 else { throw PlatformError(path: path, message: "not a regular file") }
    guard size64 >= 0, size64 <= Int64(Int.max) else { throw PlatformError(path: path, message: "file size out of range") }
    let size = Int(size64)
    owned = nil
    if size == 0 {
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      mapped = false
      return
    }
    guard let p = Syscalls.mapRead(fd, length: size) else {
      throw PlatformError(path: path, message: "cannot map: " + Syscalls.errorText)
    }
    bytes = UnsafeRawBufferPointer(start: p, count: size)
    mapped = true
    #endif
  }

  deinit {
    #if !os(none)
    if mapped, let base = bytes.baseAddress { Syscalls.unmap(base, length: bytes.count) }
    #endif
    owned?.deallocate()
  }
}
