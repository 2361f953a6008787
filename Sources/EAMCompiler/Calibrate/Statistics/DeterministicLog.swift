/// Logarithms computed with IEEE additions, multiplications and divisions only (no libm), so
/// that every entropy derived from the statistics is bit-identical on every platform.
///
/// Reduction: `x = 2^e · m` with `m` in `[√½, √2)`, then `ln m = 2·atanh(s)` with
/// `s = (m - 1) / (m + 1)`, `|s| ≤ 0.1716`, as the odd series `2s·(1 + s²/3 + s⁴/5 + …)`.
enum DeterministicLog {
  static let ln2 = 0.693_147_180_559_945_3

  /// Natural logarithm of a positive normal `Double`, to a few ulp.
  static func ln(_ x: Double) -> Double {
    let (e, m) = reduce(x)
    return Double(e) * ln2 + lnReduced(m)
  }

  /// Base-2 logarithm of a positive normal `Double`; exact for powers of two.
  static func log2(_ x: Double) -> Double {
    let (e, m) = reduce(x)
    return Double(e) + lnReduced(m) / ln2
  }

  /// `x = 2^e · m`, `m` in `[√½, √2)`.
  private static func reduce(_ x: Double) -> (Int, Double) {
    precondition(x.isNormal && x > 0, "DeterministicLog of \(x)")
    // Shift the bit pattern so that the exponent field rounds at √½ instead of 1.
    let offset: UInt64 = 0x3FF0_0000_0000_0000 &- 0x3FE6_A09E_667F_3BCD
    let t = x.bitPattern &+ offset
    let e = Int(t >> 52) - 1023
    let m = Double(bitPattern: (t & 0x000F_FFFF_FFFF_FFFF) &+ 0x3FE6_A09E_667F_3BCD)
    return (e, m)
  }

  private static func lnReduced(_ m: Double) -> Double {
    let s = (m - 1) / (m + 1)
    let z = s * s
    var p = 1.0 / 23
    for k in stride(from: 21, through: 3, by: -2) { p = p * z + 1 / Double(k) }
    return 2 * s * (p * z + 1)
  }

  /// `c · log2(c)` for every count `c` of a histogram (`0 · log2 0 = 0`).
  static let countTimesLog2: [Double] = (0...Int(UInt16.max)).map { c in
    c == 0 ? 0 : Double(c) * log2(Double(c))
  }
}
