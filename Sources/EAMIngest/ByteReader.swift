/// Bounds-checked little-endian reads from a byte buffer. Every read checks the remaining length
/// first and throws an `IngestError` instead of trapping; positions never overflow.
struct ByteReader {
  let bytes: [UInt8]
  /// The first byte after the readable window.
  let end: Int
  /// The next byte to read.
  private(set) var position: Int
  /// Where the readable window starts (offsets in messages are relative to it).
  let start: Int
  /// What is being read, for messages ("safetensors header", "zip central directory").
  var what: String

  init(_ bytes: [UInt8], range: Range<Int>? = nil, what: String) {
    let r = range ?? 0..<bytes.count
    self.bytes = bytes
    self.start = r.lowerBound
    self.end = r.upperBound
    self.position = r.lowerBound
    self.what = what
  }

  /// Bytes left to read.
  var remaining: Int { end - position }
  /// Offset of the next byte relative to the window start.
  var offset: Int { position - start }
  var atEnd: Bool { position >= end }

  func truncated(_ need: Int) -> IngestError {
    IngestError("\(what) is truncated: needed \(need) more bytes at offset \(offset), only \(remaining) left")
  }

  mutating func seek(toOffset o: Int) throws(IngestError) {
    guard o >= 0, o <= end - start else {
      throw IngestError("\(what): offset \(o) is outside the \(end - start)-byte range")
    }
    position = start + o
  }

  mutating func skip(_ n: Int) throws(IngestError) {
    guard n >= 0, n <= remaining else { throw truncated(n) }
    position += n
  }

  mutating func u8() throws(IngestError) -> UInt8 {
    guard remaining >= 1 else { throw truncated(1) }
    defer { position += 1 }
    return bytes[position]
  }

  mutating func u16() throws(IngestError) -> UInt16 {
    guard remaining >= 2 else { throw truncated(2) }
    defer { position += 2 }
    return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
  }

  mutating func u32() throws(IngestError) -> UInt32 {
    guard remaining >= 4 else { throw truncated(4) }
    defer { position += 4 }
    var v: UInt32 = 0
    for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
    return v
  }

  mutating func u64() throws(IngestError) -> UInt64 {
    guard remaining >= 8 else { throw truncated(8) }
    defer { position += 8 }
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
    return v
  }

  mutating func i32() throws(IngestError) -> Int32 { Int32(bitPattern: try u32()) }

  /// An 8-byte big-endian IEEE double (pickle's BINFLOAT).
  mutating func f64BigEndian() throws(IngestError) -> Double {
    guard remaining >= 8 else { throw truncated(8) }
    defer { position += 8 }
    var v: UInt64 = 0
    for i in 0..<8 { v = v << 8 | UInt64(bytes[position + i]) }
    return Double(bitPattern: v)
  }

  /// The range of the next `n` bytes (in `bytes`), consumed. `n` comes from the file: it is
  /// checked against what is left before anything is allocated.
  mutating func range(_ n: Int) throws(IngestError) -> Range<Int> {
    guard n >= 0, n <= remaining else { throw truncated(n) }
    defer { position += n }
    return position..<(position + n)
  }

  /// A length from the file (u32/u64) as an Int that fits in what is left.
  mutating func length<T: FixedWidthInteger>(_ n: T) throws(IngestError) -> Int {
    guard n >= 0, UInt64(n) <= UInt64(remaining) else {
      throw IngestError("\(what): length \(n) at offset \(offset) exceeds the \(remaining) bytes left")
    }
    return Int(n)
  }

  mutating func take(_ n: Int) throws(IngestError) -> ArraySlice<UInt8> {
    let r = try range(n)
    return bytes[r]
  }

  /// Bytes up to (not including) the next `\n`, which is consumed; at most `limit` bytes.
  mutating func line(limit: Int = 1 << 20) throws(IngestError) -> ArraySlice<UInt8> {
    var i = position
    let stop = min(end, position + limit)
    while i < stop && bytes[i] != 0x0A { i += 1 }
    guard i < stop else { throw IngestError("\(what): unterminated line at offset \(offset)") }
    defer { position = i + 1 }
    return bytes[position..<i]
  }
}

/// Little-endian reads at absolute positions, checked.
extension Array where Element == UInt8 {
  func readU16(at p: Int) -> UInt16? {
    guard p >= 0, p <= count - 2 else { return nil }
    return UInt16(self[p]) | UInt16(self[p + 1]) << 8
  }

  func readU32(at p: Int) -> UInt32? {
    guard p >= 0, p <= count - 4 else { return nil }
    var v: UInt32 = 0
    for i in 0..<4 { v |= UInt32(self[p + i]) << (8 * UInt32(i)) }
    return v
  }

  func readU64(at p: Int) -> UInt64? {
    guard p >= 0, p <= count - 8 else { return nil }
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(self[p + i]) << (8 * UInt64(i)) }
    return v
  }
}
