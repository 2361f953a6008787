import Testing
@testable import EAMFormat

/// The shared reader: values round-trip through the writer, and every out-of-bounds request is a
/// `ByteReadError` naming where it happened, never a trap.
@Suite struct LittleEndianReaderTests {
  typealias Reader = LittleEndianReader<[UInt8], ByteReadError>

  @Test func roundTripsThroughTheWriter() throws {
    var w = LittleEndianWriter()
    w.u8(0xA5); w.u16(0xBEEF); w.u32(0xDEAD_BEEF); w.u64(0x0123_4567_89AB_CDEF)
    var r = Reader(w.bytes) { $0 }
    #expect(try r.u8() == 0xA5)
    #expect(try r.u16() == 0xBEEF)
    #expect(try r.u32() == 0xDEAD_BEEF)
    #expect(try r.u64() == 0x0123_4567_89AB_CDEF)
    #expect(r.atEnd)
    #expect(w.bytes.readU32(at: 3) == 0xDEAD_BEEF)
    #expect(w.bytes.readU64(at: w.bytes.count - 7) == nil)
  }

  @Test func boundsAreCheckedBeforeReading() {
    let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 0x0A]
    var r = Reader(bytes, range: 2..<6) { $0 }
    #expect(throws: ByteReadError.truncated(needed: 8, offset: 0, remaining: 4, position: 2)) { try r.u64() }
    #expect(throws: ByteReadError.truncated(needed: -1, offset: 0, remaining: 4, position: 2)) { try r.skip(-1) }
    #expect(throws: ByteReadError.lengthPastEnd(magnitude: 3, negative: true, offset: 0, remaining: 4)) {
      try r.length(Int32(-3))
    }
    #expect(throws: ByteReadError.lengthPastEnd(magnitude: UInt64.max, negative: false, offset: 0, remaining: 4)) {
      try r.length(UInt64.max)
    }
    #expect(throws: ByteReadError.seekOutOfRange(offset: 5, size: 4)) { try r.seek(toOffset: 5) }
    #expect(throws: ByteReadError.unterminatedLine(offset: 0)) { try r.line() }
    #expect(r.position == 2)
  }

  @Test func aReaderStartedPastTheEndThrows() {
    [UInt8](repeating: 0, count: 4).withUnsafeBytes { buffer in
      var r = ByteReader(buffer, at: 8, what: "header")
      #expect(throws: FormatError(.truncated, "header is truncated at byte 8")) { try r.u8() }
    }
  }
}
