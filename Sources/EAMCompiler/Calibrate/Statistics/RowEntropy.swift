/// The Shannon entropy of attention rows, in nats, as a fixed-point sum that can be added
/// exactly across images and shards.
///
/// A row's `−Σ p·ln p` is computed in `Float` in a fixed order: 16 lanes accumulate the row's
/// chunks of 16 values in order, then the zero-padded remainder, then the lanes are added by
/// halving. It is the same on every machine, thread and batch; it is then rounded to an integer
/// multiple of 2^-`AttentionStatistics.entropyScaleBits` nats. `ln` uses the float's exponent and
/// a short `atanh` series (no libm): `ln p` to within 1.3e-6 (absolute).
enum RowEntropy {
  private static let c3: Float = 1 / 3, c5: Float = 1 / 5
  private static let ln2: Float = 0.693_147_18

  /// Σ over the `tokens` rows of `map` of round(H_row · 2^entropyScaleBits). (The fold computes
  /// the same while it reads the map; this is the reference.)
  static func fixedPointSum(map: UnsafePointer<Float>, tokens: Int) -> UInt64 {
    var total: UInt64 = 0
    for r in 0..<tokens { total &+= fixedPoint(lanes(row: map + r * tokens, count: tokens)) }
    return total
  }

  /// The 16 lane sums of one row (values clamped as described in `Binning`).
  static func lanes(row: UnsafePointer<Float>, count: Int) -> SIMD16<Float> {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
      acc += negativePLogP(MapFold.clampToUnit(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Int32>.self)))
      i += 16
    }
    if i < count {
      var tail = SIMD16<Int32>()  // zeros contribute 0
      for l in 0..<(count - i) { tail[l] = Int32(bitPattern: row[i + l].bitPattern) }
      acc += negativePLogP(MapFold.clampToUnit(tail))
    }
    return acc
  }

  /// A row's entropy from its lane sums, in nats.
  @inline(__always)
  static func nats(_ acc: SIMD16<Float>) -> Float {
    let a8 = acc.lowHalf + acc.highHalf
    let a4 = a8.lowHalf + a8.highHalf
    let a2 = a4.lowHalf + a4.highHalf
    return a2[0] + a2[1]
  }

  /// A row's entropy from its lane sums, in units of 2^-entropyScaleBits nats.
  @inline(__always)
  static func fixedPoint(_ acc: SIMD16<Float>) -> UInt64 {
    let h = Double(nats(acc))
    return UInt64((max(h, 0) * Double(1 << AttentionStatistics.entropyScaleBits)).rounded(.toNearestOrEven))
  }

  /// `−p·ln p` for 16 values, given as bit patterns already clamped to [0, 1].
  @inline(__always)
  static func negativePLogP(_ clamped: SIMD16<Int32>) -> SIMD16<Float> {
    let one: Int32 = 0x3F80_0000
    let p = unsafeBitCast(clamped, to: SIMD16<Float>.self)
    // p = 2^e · m, m in [√½, √2): offset the bits so that the exponent field rounds at √½.
    let sqrtHalf: Int32 = 0x3F35_04F3
    let t = clamped &+ (one &- sqrtHalf)
    let e = SIMD16<Float>((t &>> 23) &- 127)
    let m = unsafeBitCast((t & 0x007F_FFFF) &+ sqrtHalf, to: SIMD16<Float>.self)
    let s = (m - 1) / (m + 1)
    let z = s * s
    // 2s(1 + z/3 + z²/5): the next term, 2s·z³/7, is below 1.3e-6 for |s| ≤ 0.1716.
    var series: SIMD16<Float> = z * c5 + c3
    series = series * z + 1
    let twoS: SIMD16<Float> = s + s
    let lnP: SIMD16<Float> = e * ln2 + twoS * series
    // p = 0 and subnormal p: the product is 0 or negligible (|p·ln p| < 1e-36).
    return -(p * lnP)
  }
}
