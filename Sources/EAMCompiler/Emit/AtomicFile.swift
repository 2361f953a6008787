#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files atomically: a temporary file in the target folder, flushed, then renamed over
/// the target. A failure, or SIGINT/SIGTERM while writing, leaves the previous file untouched
/// and no temporary behind.
public enum AtomicFile {
  public struct WriteError: Error, CustomStringConvertible, Sendable {
    public var description: String
  }

  public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
    let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let base = path.split(separator: "/").last.map(String.init) ?? path
    let temp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp.\(getpid())"
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
      throw WriteError(description: "\(path): is a folder")
    }
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw WriteError(description: "\(path): cannot create a file in '\(dir)': \(errorText())") }
    SignalCleanup.track(temp)
    defer { SignalCleanup.untrack() }
    var failure: String?
    bytes.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
        if n < 0 {
          if errno == EINTR { continue }
          failure = errorText()
          return
        }
        done += n
      }
    }
    if failure == nil, fsync(fd) != 0 { failure = errorText() }
    if close(fd) != 0, failure == nil { failure = errorText() }
    if failure == nil, rename(temp, path) != 0 { failure = errorText() }
    if let failure {
      unlink(temp)
      throw WriteError(description: "\(path): write failed: \(failure); nothing was written")
    }
  }

  static func errorText() -> String { String(cString: strerror(errno)) }

  /// Makes SIGINT and SIGTERM able to stop this process even if it inherited them blocked (some
  /// launchers spawn children with a blocked signal mask). Signals inherited as ignored stay
  /// ignored, as POSIX asks of background jobs.
  public static func acceptInterruption() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
  }
}

/// Removes the temporary file being written if the process is interrupted.
enum SignalCleanup {
  nonisolated(unsafe) static var current: UnsafeMutablePointer<CChar>?
  nonisolated(unsafe) static var installed = false

  static func track(_ path: String) {
    if !installed {
      installed = true
      signal(SIGINT, handler)
      signal(SIGTERM, handler)
      signal(SIGXFSZ, SIG_IGN)  // a file-size limit then fails write() with EFBIG instead of killing us
    }
    current = strdup(path)
  }

  static func untrack() {
    let p = current
    current = nil
    free(p)
  }

  private static let handler: @convention(c) (Int32) -> Void = { sig in
    if let p = SignalCleanup.current { unlink(p) }
    _exit(128 + sig)
  }
}
