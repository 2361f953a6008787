import Testing
import EAMKernels

@Suite struct FrozenMapDecoding {
  /// The stored mask and bit-packed codes decode to the row layout by their definition: entry
  /// i = r·T + j frozen where mask bit i is set, codes taken in entry order, least significant bit
  /// first; per row the count and 1 − Σ code·scale in order of j. Token counts that cut mask bytes
  /// and 32-entry words anywhere; every code width.
  @Test(arguments: [(1, 1), (5, 3), (31, 8), (33, 2), (70, 5)])
  func decodesByTheDefinition(t: Int, bits: Int) {
    var seed: UInt64 = UInt64(t * 31 + bits)
    func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
    let entries = t * t
    var frozenAt = [Bool](repeating: false, count: entries), expectedCodes = [UInt8](repeating: 0, count: entries)
    var mask = [UInt8](repeating: 0, count: (entries + 7) / 8)
    var stream: [Bool] = []
    for i in 0..<entries where next() % 3 != 0 || t == 1 {
      frozenAt[i] = true
      mask[i >> 3] |= 1 << UInt8(i & 7)
      let code = UInt8(next() % (1 << UInt64(bits)))
      expectedCodes[i] = code
      for b in 0..<bits { stream.append(code >> UInt8(b) & 1 != 0) }
    }
    if entries % 8 != 0 { mask[mask.count - 1] |= 0x80 }  // a padding bit past T·T: ignored
    var packed = [UInt8](repeating: 0, count: (stream.count + 7) / 8)
    for (k, on) in stream.enumerated() where on { packed[k >> 3] |= 1 << UInt8(k & 7) }
    let frozen = frozenAt.filter { $0 }.count
    #expect(Kernels.frozenMapCount(tokens: t, mask: mask) == frozen)

    let words = Kernels.frozenMaskWords(cols: t) + 1  // a wider stride than needed: the extra word is 0
    let scale: Float = 1 / Float(3 * t)
    var rowBits = [UInt16](repeating: 0xFFFF, count: t * words), codes = [UInt8](repeating: 9, count: entries)
    var rowFrozen = [Int32](repeating: -1, count: t), mass = [Float](repeating: .nan, count: t)
    let ok = packed.withUnsafeBufferPointer { p in
      Kernels.decodeFrozenMap(tokens: t, bits: bits, scale: scale, mask: mask, packed: p, rowBits: &rowBits, rowLD: words,
                              codes: &codes, rowFrozen: &rowFrozen, rowMass: &mass)
    }
    #expect(ok)
    #expect(codes == expectedCodes)
    var failures = 0
    for r in 0..<t {
      var m: Float = 1, n: Int32 = 0
      var expectedBits = [UInt16](repeating: 0, count: words)
      for j in 0..<t where frozenAt[r * t + j] {
        m -= Float(expectedCodes[r * t + j]) * scale
        n += 1
        expectedBits[j / 16] |= 1 << UInt16(j % 16)
      }
      if rowFrozen[r] != n || mass[r].bitPattern != m.bitPattern || Array(rowBits[(r * words)..<((r + 1) * words)]) != expectedBits {
        failures += 1
      }
    }
    #expect(failures == 0)

    // One byte of codes short: refused, whatever the mask says.
    if !packed.isEmpty {
      let short = Array(packed.dropLast())
      let refused = short.withUnsafeBufferPointer { p in
        !Kernels.decodeFrozenMap(tokens: t, bits: bits, scale: scale, mask: mask, packed: p, rowBits: &rowBits, rowLD: words,
                                 codes: &codes, rowFrozen: &rowFrozen, rowMass: &mass)
      }
      #expect(refused)
    }
  }
}
