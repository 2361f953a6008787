import EAMFormat

/// The runtime's memory budget: what a model may allocate because of its manifest.
extension LoadOptions {
  /// The default `memoryBudget`: half the physical memory, at most 8 GiB, on a hosted platform;
  /// `embeddedMemoryBudget` where the platform cannot tell (bare metal).
  public static var defaultMemoryBudget: Int {
    guard let physical = PhysicalMemory.bytes else { return embeddedMemoryBudget }
    return min(physical / 2, 8 << 30)
  }

  /// The default budget without an operating system: 256 MiB.
  public static let embeddedMemoryBudget = 256 << 20

  /// `2G`, `512M`, `64k`, `1000000`, `2GiB`: a whole number of bytes, optionally followed by K, M, G
  /// or T (powers of 1024, either case, an optional `B` or `iB` after it). Nil for anything else,
  /// for 0 and for sizes beyond `Int.max`.
  public static func parseMemorySize(_ text: String) -> Int? {
    var bytes = Array(text.utf8)
    func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
    if bytes.count >= 2, lower(bytes[bytes.count - 1]) == UInt8(ascii: "b"), lower(bytes[bytes.count - 2]) == UInt8(ascii: "i") {
      bytes.removeLast(2)
      guard let last = bytes.last, "kmgt".utf8.contains(lower(last)) else { return nil }
    } else if let last = bytes.last, lower(last) == UInt8(ascii: "b") {
      bytes.removeLast()
    }
    var unit = 1
    if let last = bytes.last {
      switch lower(last) {
      case UInt8(ascii: "k"): unit = 1 << 10
      case UInt8(ascii: "m"): unit = 1 << 20
      case UInt8(ascii: "g"): unit = 1 << 30
      case UInt8(ascii: "t"): unit = 1 << 40
      default: break
      }
      if unit > 1 { bytes.removeLast() }
    }
    guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
    var n = 0
    for c in bytes {
      guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
      let (t, o1) = n.multipliedReportingOverflow(by: 10)
      let (s, o2) = t.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
      guard !o1, !o2 else { return nil }
      n = s
    }
    let (total, o) = n.multipliedReportingOverflow(by: unit)
    guard !o, total > 0 else { return nil }
    return total
  }
}
