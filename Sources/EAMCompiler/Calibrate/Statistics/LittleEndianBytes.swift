/// Appends little-endian integers to a byte array (the `.eamstats` writer).
struct LittleEndianWriter {
  var bytes: [UInt8] = []

  mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
  mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
  mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
}

/// Bounds-checked little-endian reads (the `.eamstats` reader). Reading past the end throws.
struct LittleEndianReader {
  let buffer: UnsafeRawBufferPointer
  /// Reads stop here (the checksum after it is not content).
  let end: Int
  private(set) var position = 0

  init(_ buffer: UnsafeRawBufferPointer, end: Int) {
    self.buffer = buffer
    self.end = end
  }

  var remaining: Int { end - position }

  private mutating func take(_ n: Int, _ what: String) throws(StatisticsError) -> Int {
    guard n >= 0, remaining >= n else {
      throw StatisticsError(.truncated, "file ends inside the \(what) at byte \(position)")
    }
    defer { position += n }
    return position
  }

  mutating func u32(_ what: String) throws(StatisticsError) -> UInt32 {
    let p = try take(4, what)
    var v: UInt32 = 0
    for i in 0..<4 { v |= UInt32(buffer[p + i]) << (8 * UInt32(i)) }
    return v
  }

  mutating func u64(_ what: String) throws(StatisticsError) -> UInt64 {
    let p = try take(8, what)
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(buffer[p + i]) << (8 * UInt64(i)) }
    return v
  }

  /// A `u32` field that must lie in `range`.
  mutating func count(_ what: String, _ range: ClosedRange<Int>) throws(StatisticsError) -> Int {
    let v = try u32(what)
    guard range.contains(Int(v)) else {
      throw StatisticsError(.invalid, "\(what) \(v) is outside \(range.lowerBound)...\(range.upperBound)")
    }
    return Int(v)
  }

  mutating func bytes(_ n: Int, _ what: String) throws(StatisticsError) -> UnsafeRawBufferPointer {
    let p = try take(n, what)
    return UnsafeRawBufferPointer(rebasing: buffer[p..<(p + n)])
  }
}
