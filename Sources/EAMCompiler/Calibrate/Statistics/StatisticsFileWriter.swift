import EAMFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a `.eamstats` file as its parts are produced, so that neither the file nor more than
/// one layer's encoding is ever in memory: room for the header first, each layer's sections as
/// they are encoded (calibration in passes encodes a group of layers after each pass), then the
/// header in place, and the checksum of every byte, read back from the file.
///
/// Atomic as `AtomicFile`: a temporary file in the target folder, flushed and renamed over the
/// target at the end; a failure, SIGINT or SIGTERM leaves the previous file untouched and no
/// temporary behind (a writer dropped before `finish` removes its temporary).
final class StatisticsFileWriter {
  let path: String
  private let temp: String
  private let fd: Int32
  private let headerBytes: Int
  private var finished = false

  /// Creates the temporary file and reserves `headerBytes` for the header.
  init(path: String, headerBytes: Int) throws(StatisticsError) {
    self.path = path
    self.headerBytes = headerBytes
    let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let base = path.split(separator: "/").last.map(String.init) ?? path
    temp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp.\(getpid())"
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
      throw StatisticsError(.io, "is a folder", path: path)
    }
    fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw StatisticsError(.io, "cannot create a file in '\(dir)': \(AtomicFile.errorText())", path: path)
    }
    SignalCleanup.track([temp])
    do throws(StatisticsError) {
      try append([UInt8](repeating: 0, count: headerBytes))
    } catch {
      discard()
      throw error
    }
  }

  deinit { discard() }

  /// Closes and removes the temporary file, unless it became the target.
  private func discard() {
    guard !finished else { return }
    finished = true
    close(fd)
    unlink(temp)
    SignalCleanup.untrack()
  }

  /// Appends bytes after everything written so far.
  func append(_ bytes: [UInt8]) throws(StatisticsError) {
    let failure: String? = bytes.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = write(fd, raw.baseAddress! + done, raw.count - done)
        if n < 0 {
          if errno == EINTR { continue }
          return AtomicFile.errorText()
        }
        done += n
      }
      return nil
    }
    if let failure { throw fail(failure) }
  }

  /// Writes `header` (exactly the bytes reserved) at the start, appends the CRC-32C of the whole
  /// file, flushes it and renames it over the target.
  func finish(header: [UInt8]) throws(StatisticsError) {
    precondition(header.count == headerBytes, "the header is \(header.count) bytes, \(headerBytes) were reserved")
    let wrote: Int = header.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(done))
        if n < 0 {
          if errno == EINTR { continue }
          return -1
        }
        done += n
      }
      return done
    }
    guard wrote == header.count else { throw fail(AtomicFile.errorText()) }
    var crc: UInt32 = 0
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    var offset: off_t = 0
    while true {
      let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
      if n < 0 {
        if errno == EINTR { continue }
        throw fail(AtomicFile.errorText())
      }
      if n == 0 { break }
      crc = chunk.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<n]), continuing: crc) }
      offset += off_t(n)
    }
    var w = LittleEndianWriter()
    w.u32(crc)
    try append(w.bytes)
    guard fsync(fd) == 0 else { throw fail(AtomicFile.errorText()) }
    finished = true
    let closed = close(fd) == 0
    let closeError = AtomicFile.errorText()
    guard closed, rename(temp, path) == 0 else {
      let message = closed ? AtomicFile.errorText() : closeError
      unlink(temp)
      SignalCleanup.untrack()
      throw StatisticsError(.io, "write failed: \(message); nothing was written", path: path)
    }
    SignalCleanup.untrack()
  }

  private func fail(_ message: String) -> StatisticsError {
    StatisticsError(.io, "write failed: \(message); nothing was written", path: path)
  }
}
