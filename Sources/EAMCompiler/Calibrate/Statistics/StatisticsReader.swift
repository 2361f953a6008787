import EAMFormat

/// The `.eamstats` reader: `LittleEndianReader` over the mapped file, failing with the bare
/// `ByteReadError`; each read names its field (`what`) and becomes a `StatisticsError`.
typealias StatisticsReader = LittleEndianReader<UnsafeRawBufferPointer, ByteReadError>

extension LittleEndianReader where Bytes == UnsafeRawBufferPointer, Failure == ByteReadError {
  /// Reads `buffer` up to `end` (the checksum after it is not content).
  init(_ buffer: UnsafeRawBufferPointer, end: Int) {
    self.init(buffer, range: 0..<end) { $0 }
  }

  /// A truncation while reading `what`, as the `.eamstats` reader words it.
  private func inside(_ what: String) -> StatisticsError {
    StatisticsError(.truncated, "file ends inside the \(what) at byte \(position)")
  }

  mutating func u32(_ what: String) throws(StatisticsError) -> UInt32 {
    do throws(ByteReadError) { return try u32() } catch { throw inside(what) }
  }

  mutating func u64(_ what: String) throws(StatisticsError) -> UInt64 {
    do throws(ByteReadError) { return try u64() } catch { throw inside(what) }
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
    do throws(ByteReadError) { return try bytes(n) } catch { throw inside(what) }
  }
}
