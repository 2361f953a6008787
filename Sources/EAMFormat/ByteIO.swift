/// Appends little-endian integers to a byte array.
struct ByteWriter {
  var bytes: [UInt8] = []

  mutating func u8(_ v: UInt8) { bytes.append(v) }
  mutating func u16(_ v: UInt16) { for i in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
  mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
  mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
  mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
  mutating func pad(toMultipleOf n: Int) {
    while bytes.count % n != 0 { bytes.append(0) }
  }
}

/// Bounds-checked little-endian reads from a byte buffer. Every read past the end throws.
struct ByteReader {
  let buffer: UnsafeRawBufferPointer
  private(set) var position: Int
  let what: String

  init(_ buffer: UnsafeRawBufferPointer, at position: Int = 0, what: String) {
    self.buffer = buffer
    self.position = position
    self.what = what
  }

  private mutating func take(_ n: Int) throws(FormatError) -> Int {
    guard n >= 0, position <= buffer.count, buffer.count - position >= n else {
      throw FormatError(.truncated, "\(what) is truncated at byte \(position)")
    }
    let p = position
    position += n
    return p
  }

  mutating func u8() throws(FormatError) -> UInt8 {
    let p = try take(1)
    return buffer[p]
  }

  mutating func u16() throws(FormatError) -> UInt16 {
    let p = try take(2)
    return UInt16(buffer[p]) | UInt16(buffer[p + 1]) << 8
  }

  mutating func u32() throws(FormatError) -> UInt32 {
    let p = try take(4)
    var v: UInt32 = 0
    for i in 0..<4 { v |= UInt32(buffer[p + i]) << (8 * UInt32(i)) }
    return v
  }

  mutating func u64() throws(FormatError) -> UInt64 {
    let p = try take(8)
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(buffer[p + i]) << (8 * UInt64(i)) }
    return v
  }

  mutating func bytes(_ n: Int) throws(FormatError) -> UnsafeRawBufferPointer {
    let p = try take(n)
    return UnsafeRawBufferPointer(rebasing: buffer[p..<(p + n)])
  }
}

extension UInt64 {
  /// This value as an `Int`, or a `FormatError` if it does not fit.
  func asInt(_ what: String) throws(FormatError) -> Int {
    guard self <= UInt64(Int.max) else { throw FormatError(.invalid, "\(what) \(self) is out of range") }
    return Int(self)
  }
}
