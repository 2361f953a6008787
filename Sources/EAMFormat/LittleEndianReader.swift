/// Bounds-checked little-endian reads from a window of a byte collection: the one reader behind
/// the `.eam` container, the checkpoint parsers and `.eamstats`. Every read checks the remaining
/// length first and throws instead of trapping; positions never overflow. What went wrong
/// (`ByteReadError`) becomes the caller's error through `failure`, called only on the error path.
public struct LittleEndianReader<Bytes: RandomAccessCollection, Failure: Error>
where Bytes.Element == UInt8, Bytes.Index == Int {
  public let bytes: Bytes
  /// Where the readable window starts (offsets in errors are relative to it).
  public let start: Int
  /// The first byte after the readable window.
  public let end: Int
  /// The next byte to read (an index in `bytes`).
  @inlinable public var position: Int { next }
  @usableFromInline var next: Int
  @usableFromInline let failure: (ByteReadError) -> Failure

  /// Reads `range` of `bytes` (all of it by default), from `offset` bytes into the window.
  @inlinable
  public init(_ bytes: Bytes, range: Range<Int>? = nil, offset: Int = 0,
              failure: @escaping (ByteReadError) -> Failure) {
    let r = range ?? bytes.startIndex..<bytes.endIndex
    self.bytes = bytes
    self.start = r.lowerBound
    self.end = r.upperBound
    self.next = r.lowerBound + offset
    self.failure = failure
  }

  /// Bytes left to read (negative if the reader started past the end).
  @inlinable public var remaining: Int { end - position }
  /// Offset of the next byte relative to the window start.
  @inlinable public var offset: Int { position - start }
  @inlinable public var atEnd: Bool { position >= end }

  @inlinable
  func truncated(_ needed: Int) -> Failure {
    failure(.truncated(needed: needed, offset: offset, remaining: remaining, position: position))
  }

  /// The range of the next `n` bytes (in `bytes`), consumed. `n` may come from the file: it is
  /// checked against what is left before anything is allocated.
  @inlinable
  public mutating func range(_ n: Int) throws(Failure) -> Range<Int> {
    guard n >= 0, remaining >= n else { throw truncated(n) }
    defer { next += n }
    return position..<(position + n)
  }

  @inlinable
  public mutating func take(_ n: Int) throws(Failure) -> Bytes.SubSequence {
    bytes[try range(n)]
  }

  @inlinable
  public mutating func skip(_ n: Int) throws(Failure) {
    _ = try range(n)
  }

  @inlinable
  public mutating func seek(toOffset o: Int) throws(Failure) {
    guard o >= 0, o <= end - start else { throw failure(.seekOutOfRange(offset: o, size: end - start)) }
    next = start + o
  }

  @inlinable
  mutating func load<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(Failure) -> T {
    let n = MemoryLayout<T>.size
    guard remaining >= n else { throw truncated(n) }
    defer { next += n }
    return bytes.littleEndian(T.self, at: position)
  }

  @inlinable public mutating func u8() throws(Failure) -> UInt8 { try load(UInt8.self) }
  @inlinable public mutating func u16() throws(Failure) -> UInt16 { try load(UInt16.self) }
  @inlinable public mutating func u32() throws(Failure) -> UInt32 { try load(UInt32.self) }
  @inlinable public mutating func u64() throws(Failure) -> UInt64 { try load(UInt64.self) }
  @inlinable public mutating func i32() throws(Failure) -> Int32 { Int32(bitPattern: try u32()) }

  /// An 8-byte big-endian IEEE double (pickle's BINFLOAT).
  @inlinable
  public mutating func f64BigEndian() throws(Failure) -> Double {
    Double(bitPattern: try u64().byteSwapped)
  }

  /// A length from the file as an `Int` that fits in what is left.
  @inlinable
  public func length<T: FixedWidthInteger>(_ n: T) throws(Failure) -> Int {
    guard n >= 0, UInt64(n) <= UInt64(max(0, remaining)) else {
      throw failure(.lengthPastEnd(magnitude: UInt64(n.magnitude), negative: n < 0, offset: offset,
                                   remaining: remaining))
    }
    return Int(n)
  }

  /// Bytes up to (not including) the next `\n`, which is consumed; at most `limit` bytes.
  @inlinable
  public mutating func line(limit: Int = 1 << 20) throws(Failure) -> Bytes.SubSequence {
    var i = position
    let stop = limit >= remaining ? end : position + limit
    while i < stop && bytes[i] != 0x0A { i += 1 }
    guard i < stop else { throw failure(.unterminatedLine(offset: offset)) }
    defer { next = i + 1 }
    return bytes[position..<i]
  }
}

extension LittleEndianReader where Bytes == UnsafeRawBufferPointer {
  /// The next `n` bytes as a buffer, consumed.
  @inlinable
  public mutating func bytes(_ n: Int) throws(Failure) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: bytes[try range(n)])
  }
}

extension RandomAccessCollection where Element == UInt8, Index == Int {
  /// The little-endian `T` at `p`, which the caller has checked lies within the collection.
  @inlinable
  func littleEndian<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, at p: Int) -> T {
    var v: T = 0
    for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: self[p + i]) << (8 * i) }
    return v
  }

  /// The little-endian `T` at `p`, or nil if it does not lie within the collection.
  @inlinable
  func checkedLittleEndian<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, at p: Int) -> T? {
    let n = MemoryLayout<T>.size
    guard p >= startIndex, p <= endIndex - n else { return nil }
    return littleEndian(T.self, at: p)
  }

  /// Little-endian reads at absolute positions, checked.
  @inlinable public func readU16(at p: Int) -> UInt16? { checkedLittleEndian(UInt16.self, at: p) }
  @inlinable public func readU32(at p: Int) -> UInt32? { checkedLittleEndian(UInt32.self, at: p) }
  @inlinable public func readU64(at p: Int) -> UInt64? { checkedLittleEndian(UInt64.self, at: p) }
}
