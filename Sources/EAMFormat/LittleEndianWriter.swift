/// Appends little-endian integers to a byte array.
public struct LittleEndianWriter {
  public var bytes: [UInt8] = []

  public init() {}

  @inlinable public mutating func u8(_ v: UInt8) { bytes.append(v) }
  @inlinable public mutating func u16(_ v: UInt16) { put(v) }
  @inlinable public mutating func u32(_ v: UInt32) { put(v) }
  @inlinable public mutating func u64(_ v: UInt64) { put(v) }
  @inlinable public mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }

  /// Zeros up to the next multiple of `n` bytes.
  @inlinable public mutating func pad(toMultipleOf n: Int) {
    while bytes.count % n != 0 { bytes.append(0) }
  }

  @inlinable mutating func put<T: FixedWidthInteger & UnsignedInteger>(_ v: T) {
    for i in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
  }
}
