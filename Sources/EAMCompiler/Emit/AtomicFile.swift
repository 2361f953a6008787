#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files atomically: a temporary file in the target folder, flushed, then renamed over
/// the target. A failure, or SIGINT/SIGTERM while writing, leaves the previous file untouched
/// and no temporary behind. Several files at once: `OutputSet`.
public enum AtomicFile {
  public struct WriteError: Error, CustomStringConvertible, Sendable {
    public var description: String
  }

  public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
    try OutputSet.commit([(path, bytes)])
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
