/// The histogram bins of one attention-map entry: pseudo-logarithmic bins read off the bits of
/// the float, so that finding a value's bin costs a shift, a subtraction and a clamp (no `log`,
/// no table, no search).
///
/// A positive float's bit pattern is monotone in its value, and its top bits are the exponent
/// followed by the mantissa. Keeping the exponent and the top `mantissaBits` mantissa bits
/// (`key = bits >> (23 - mantissaBits)`) splits every octave `[2^e, 2^(e+1))` into
/// `2^mantissaBits` equal parts: with one mantissa bit the edges are `2^e` and `1.5 · 2^e`
/// (steps of ×1.5 and ×1.33, "half octaves"); with two, `2^e · {1, 1.25, 1.5, 1.75}`.
///
/// Bins, for `bins = B`:
/// - bin `B - 1` is the top part of `[0.5, 1)` together with `1.0` itself (values are clamped to
///   `[0, 1]` first: negatives, `-0` and negative NaNs count as 0; values above 1, `+inf` and
///   positive NaNs as 1);
/// - bins `B - 2` down to `1` are the parts below it, one each;
/// - bin `0` is everything below the lower edge of bin 1, zero and subnormals included (the
///   underflow bin; the fold treats subnormals as 0 throughout).
///
/// `Binning.standard` (one mantissa bit, 32 bins) covers `[2.29e-5, 1]` in 31 half-octave bins
/// plus the underflow bin, and one entry's 32 `UInt16` counts are exactly one 64-byte cache line.
public struct Binning: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// Mantissa bits kept: each octave is split into `2^mantissaBits` bins. 0...4.
  public let mantissaBits: Int
  /// Bins per entry, the underflow bin included. 2...256.
  public let bins: Int

  /// `key(1.0) - bins`: key `keyBase + i` is bin `i` for `1 ≤ i < bins`.
  let keyBase: Int32
  /// `23 - mantissaBits`.
  let shift: Int32

  /// Half-octave bins from 2.29e-5 to 1 plus an underflow bin: 32 bins, one cache line per entry.
  public static let standard = try! Binning(mantissaBits: 1, bins: 32)

  /// Bins of `2^-mantissaBits` octave each below 1, down to `bins - 1` of them, plus an
  /// underflow bin. The lowest edge must be a normal float.
  public init(mantissaBits: Int, bins: Int) throws(StatisticsError) {
    guard (0...4).contains(mantissaBits) else {
      throw StatisticsError(.binning, "binning: \(mantissaBits) mantissa bits, expected 0 to 4")
    }
    guard (2...256).contains(bins) else {
      throw StatisticsError(.binning, "binning: \(bins) bins, expected 2 to 256")
    }
    let keyOne = 127 << mantissaBits
    // The lower edge of bin 1 (key keyBase + 1) must have a non-zero exponent field.
    guard keyOne - bins + 1 >= 1 << mantissaBits else {
      throw StatisticsError(.binning, "binning: \(bins) bins of 1/\(1 << mantissaBits) octave reach below the smallest normal float")
    }
    self.mantissaBits = mantissaBits
    self.bins = bins
    keyBase = Int32(keyOne - bins)
    shift = Int32(23 - mantissaBits)
  }

  /// The bin of a value's bit pattern (see the type's documentation for clamping).
  @inline(__always)
  func index(bits: UInt32) -> Int {
    let clamped = min(max(Int32(bitPattern: bits), 0), 0x3F80_0000)
    return Int(min(max((clamped >> shift) &- keyBase, 0), Int32(bins - 1)))
  }

  /// The bin of `value`.
  public func bin(of value: Float) -> Int { index(bits: value.bitPattern) }

  /// The smallest value of bin `i` (0 for the underflow bin).
  public func lowerEdge(_ i: Int) -> Float {
    precondition((0..<bins).contains(i), "bin \(i) of \(bins)")
    if i == 0 { return 0 }
    return Float(bitPattern: UInt32(Int(keyBase) + i) << UInt32(shift))
  }

  /// The smallest value above bin `i` (`1` for the top bin, which also holds 1 itself).
  public func upperEdge(_ i: Int) -> Float {
    precondition((0..<bins).contains(i), "bin \(i) of \(bins)")
    return i == bins - 1 ? 1 : lowerEdge(i + 1)
  }

  public var description: String {
    "\(bins) bins of 1/\(1 << mantissaBits) octave from \(lowerEdge(1)) to 1"
  }
}
