#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("PeakMemory: needs Glibc or Darwin")
#endif

/// The process's peak resident set size (benchmarks).
public enum PeakMemory {
  /// Peak resident set size of this process, in bytes: `VmHWM` of /proc/self/status on Linux
  /// (it can be reset, see `reset`), else getrusage's maximum.
  public static func bytes() -> Int {
    #if os(Linux)
    if let kb = statusField("VmHWM:") { return kb * 1024 }
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    var usage = rusage()
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
  }

  /// Starts the measurement afresh. Linux keeps the high-water mark across fork and exec, so a
  /// process started by a large parent (a Python benchmark driver) would report the parent's.
  public static func reset() {
    #if os(Linux)
    let fd = open("/proc/self/clear_refs", O_WRONLY)
    if fd >= 0 {
      _ = write(fd, "5", 1)
      close(fd)
    }
    #endif
  }

  #if os(Linux)
  /// A "Name:   N kB" field of /proc/self/status, in kB.
  static func statusField(_ name: String) -> Int? {
    let fd = open("/proc/self/status", O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 8192)
    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return nil }
    let text = String(decoding: buf[0..<n], as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
      return Int(line.dropFirst(name.count).filter { $0.isNumber }.prefix(18))
    }
    return nil
  }
  #endif
}
