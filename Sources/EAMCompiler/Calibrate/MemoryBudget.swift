#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--memory-budget SIZE`: the most memory calibration may hold, in bytes.
public enum MemoryBudget {
  /// The default: this fraction of the memory the process may use (`limit()`), leaving the rest
  /// to the system and to other processes.
  public static let defaultFraction = (numerator: 3, denominator: 4)

  /// Parses `4G`, `512M`, `1.5G`, `1000000`: a decimal number (a fraction only with a unit),
  /// optionally followed by K, M, G or T (powers of 1024; case-insensitive, an optional `B` or
  /// `iB` after it). Nil for anything else, for 0 and for sizes beyond `Int.max`.
  public static func parse(_ text: String) -> Int? {
    guard let bytes = size(text), bytes > 0 else { return nil }
    return bytes
  }

  /// `parse`, 0 included.
  static func size(_ text: String) -> Int? {
    func multiplier(_ c: Character?) -> UInt64? {
      switch c {
      case "k": 1 << 10
      case "m": 1 << 20
      case "g": 1 << 30
      case "t": 1 << 40
      default: nil
      }
    }
    var s = Substring(text.lowercased())
    var unit: UInt64 = 1
    if s.hasSuffix("ib") {
      s = s.dropLast(2)
      guard let u = multiplier(s.last) else { return nil }  // "iB" needs a unit before it
      unit = u
      s = s.dropLast()
    } else {
      if s.hasSuffix("b") { s = s.dropLast() }
      if let u = multiplier(s.last) {
        unit = u
        s = s.dropLast()
      }
    }
    let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    var bytes: UInt64 = 0
    for c in whole.utf8 {
      let (times10, o1) = bytes.multipliedReportingOverflow(by: 10)
      let (plus, o2) = times10.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
      guard !o1, !o2 else { return nil }
      bytes = plus
    }
    let (scaled, o3) = bytes.multipliedReportingOverflow(by: unit)
    guard !o3 else { return nil }
    bytes = scaled
    if parts.count == 2 {
      // A fraction of the unit, rounded down: F · unit / 10^k in full width (F < 10^k ≤ 10^18).
      let fraction = parts[1]
      guard unit > 1, (1...18).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
      var f: UInt64 = 0, scale: UInt64 = 1
      for c in fraction.utf8 {
        f = f * 10 + UInt64(c - UInt8(ascii: "0"))
        scale *= 10
      }
      let product = f.multipliedFullWidth(by: unit)
      let (part, _) = scale.dividingFullWidth(product)
      let (sum, o4) = bytes.addingReportingOverflow(part)
      guard !o4 else { return nil }
      bytes = sum
    }
    guard bytes <= UInt64(Int.max) else { return nil }
    return Int(bytes)
  }

  /// The memory this process may use, and what sets it: the smallest of the physical memory
  /// (`sysconf(_SC_PHYS_PAGES) × sysconf(_SC_PAGESIZE)`), the cgroup's memory limit
  /// (`/sys/fs/cgroup/memory.max`, cgroup v2) and the address-space limit (`ulimit -v`).
  public static func limit() -> (bytes: Int, source: String) {
    var best = (bytes: Int.max, source: "no memory limit found")
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    if pages > 0, pageSize > 0 {
      let (physical, overflow) = pages.multipliedReportingOverflow(by: pageSize)
      best = (overflow ? Int.max : physical, "physical memory")
    }
    if let cgroup = cgroupLimit(), cgroup < best.bytes { best = (cgroup, "the cgroup's memory.max") }
    var r = rlimit()
    #if os(Linux)
    let resource = __rlimit_resource_t(RLIMIT_AS.rawValue)
    #else
    let resource = RLIMIT_AS
    #endif
    // RLIM_INFINITY is the largest value, never below an Int.
    if getrlimit(resource, &r) == 0, r.rlim_cur < UInt64(best.bytes) {
      best = (Int(r.rlim_cur), "the address-space limit (ulimit -v)")
    }
    return best
  }

  /// The default budget: `defaultFraction` of `limit()`.
  public static func defaultBudget() -> (bytes: Int, source: String) {
    let l = limit()
    let bytes = max(1, l.bytes / defaultFraction.denominator * defaultFraction.numerator)
    return (bytes, "\(defaultFraction.numerator)/\(defaultFraction.denominator) of \(l.source), \(text(l.bytes))")
  }

  /// `memory.max` of this process's cgroup (v2), when it is a number.
  static func cgroupLimit() -> Int? {
    #if os(Linux)
    let fd = open("/sys/fs/cgroup/memory.max", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 64)
    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return nil }
    let digits = buf[0..<n].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    guard !digits.isEmpty, digits.count <= 18 else { return nil }
    return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    #else
    return nil
    #endif
  }

  /// `4.00 GiB`, `512.0 MiB`, `37.5 KiB`, `100 bytes`.
  public static func text(_ bytes: Int) -> String {
    func fixed(_ v: Double, _ decimals: Int) -> String {
      let scale = decimals == 2 ? 100.0 : 10.0
      let r = Int((v * scale).rounded())
      let whole = r / Int(scale), part = r % Int(scale)
      let digits = String(part)
      return "\(whole)." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    let b = Double(bytes)
    if bytes >= 1 << 30 { return fixed(b / Double(1 << 30), 2) + " GiB" }
    if bytes >= 1 << 20 { return fixed(b / Double(1 << 20), 1) + " MiB" }
    if bytes >= 1 << 10 { return fixed(b / Double(1 << 10), 1) + " KiB" }
    return "\(bytes) bytes"
  }
}

extension MemoryBudget {
  /// The help of `--memory-budget`.
  public static let help = "The most memory calibration may hold, e.g. 4G, 512M or 1.5G (K, M, G, T: powers of 1024; default: 3/4 of the physical memory, or of a lower cgroup or ulimit -v limit). When the statistics of every block do not fit, blocks are calibrated in groups, in successive passes over the images (the same statistics)."

  /// The value of `--memory-budget`, or the one-line error for it.
  public static func flag(_ text: String) throws(CompileError) -> Int {
    guard let bytes = size(text) else {
      throw CompileError("--memory-budget takes a size such as 4G, 512M or 1.5G (K, M, G, T: powers of 1024), not '\(text)'")
    }
    guard bytes > 0 else { throw CompileError("--memory-budget must be more than 0, not '\(text)'") }
    return bytes
  }
}
