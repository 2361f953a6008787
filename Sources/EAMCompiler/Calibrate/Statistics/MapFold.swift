/// The hot loop of calibration: adds attention maps to one (layer, head) slice's per-entry
/// histograms and fixed-point sums, and sums their rows' entropies.
///
/// One row at a time, for every map of the batch: the row's histograms (257 × 64 bytes for
/// DINOv2) stay in L1 while all maps are added, so the statistics (hundreds of MB) stream
/// through memory once per batch rather than once per image, and each map is read once. Per 16
/// values of a map: clamp, fixed point, bin index and `−p·ln p` in SIMD, sums kept in registers
/// across the maps, then 16 scalar histogram increments. Integer arithmetic on the float's bits
/// throughout (and a fixed order for the row entropy): the result does not depend on how maps
/// are grouped into batches, on their order, or on the machine.
enum MapFold {
  static let maxMapsPerPass = 256

  /// Adds every map in `maps` (each `tokens × tokens` floats) to the arrays of one slice;
  /// returns Σ over maps and rows of the rows' fixed-point entropies.
  static func accumulate(maps: UnsafeBufferPointer<UnsafePointer<Float>>, tokens t: Int, binning: Binning,
                         counts: UnsafeMutablePointer<UInt16>, sums: UnsafeMutablePointer<UInt64>,
                         squares: UnsafeMutablePointer<UInt64>) -> UInt64
  {
    // Σq of one chunk over the maps is kept in 32 bits: at most 256 maps of q ≤ 2^23 at a time.
    if maps.count > maxMapsPerPass {
      var entropy: UInt64 = 0
      var start = 0
      while start < maps.count {
        let end = min(start + maxMapsPerPass, maps.count)
        entropy &+= accumulate(maps: UnsafeBufferPointer(rebasing: maps[start..<end]), tokens: t, binning: binning,
                               counts: counts, sums: sums, squares: squares)
        start = end
      }
      return entropy
    }
    let n = maps.count
    guard n > 0 else { return 0 }
    let rowLanes = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: n)
    let scatter = UnsafeMutablePointer<UInt32>.allocate(capacity: 16)
    defer {
      rowLanes.deallocate()
      scatter.deallocate()
    }
    let chunks = t / 16
    var entropy: UInt64 = 0
    for row in 0..<t {
      rowLanes.initialize(repeating: .zero, count: n)
      for c in 0..<chunks {
        accumulateChunk(maps: maps, entry: row * t + 16 * c, binning: binning, counts: counts, sums: sums,
                        squares: squares, rowLanes: rowLanes, scatter: scatter)
      }
      let first = row * t + 16 * chunks
      if first < (row + 1) * t {
        for k in 0..<n {
          var tail = SIMD16<Int32>()  // zeros contribute 0 to the entropy
          for e in first..<((row + 1) * t) {
            let bits = maps[k][e].bitPattern
            accumulateOne(bits, entry: e, binning: binning, counts: counts, sums: sums, squares: squares)
            tail[e - first] = Int32(bitPattern: bits)
          }
          rowLanes[k] += RowEntropy.negativePLogP(clampToUnit(tail))
        }
      }
      for k in 0..<n { entropy &+= RowEntropy.fixedPoint(rowLanes[k]) }
    }
    return entropy
  }

  /// Adds 16 entries from `entry` of every map.
  @inline(__always)
  private static func accumulateChunk(maps: UnsafeBufferPointer<UnsafePointer<Float>>, entry e: Int, binning: Binning,
                                      counts: UnsafeMutablePointer<UInt16>, sums: UnsafeMutablePointer<UInt64>,
                                      squares: UnsafeMutablePointer<UInt64>, rowLanes: UnsafeMutablePointer<SIMD16<Float>>,
                                      scatter: UnsafeMutablePointer<UInt32>)
  {
    let bins = Int32(binning.bins)
    let shift = SIMD16<Int32>(repeating: binning.shift)
    let keyBase = SIMD16<Int32>(repeating: binning.keyBase)
    let top = SIMD16<Int32>(repeating: bins - 1)
    let laneOffset = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &* bins
    let scale = SIMD16<Float>(repeating: Float(1 << AttentionStatistics.valueScaleBits))
    let low32 = SIMD8<UInt64>(repeating: 0xFFFF_FFFF)
    let histograms = counts + e * Int(bins)
    // Sums over the maps: Σq per entry (< 256 · 2^23 = 2^31), and Σq² of the even entries
    // (0, 2, …, 14) and of the odd ones.
    var qSums = SIMD16<Int32>()
    var evenSquares = SIMD8<UInt64>(), oddSquares = SIMD8<UInt64>()
    for k in 0..<maps.count {
      let clamped = clampToUnit(UnsafeRawPointer(maps[k] + e).loadUnaligned(as: SIMD16<Int32>.self))
      // q = round(v · 2^23): v · 2^23 is exact; adding 2^23 rounds to an integer (ulp 1 on
      // [2^23, 2^24]), which the low mantissa bits then hold.
      let shifted = unsafeBitCast(clamped, to: SIMD16<Float>.self) * scale + scale
      let q = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B00_0000
      qSums &+= q
      // Pairs of 32-bit lanes as 64-bit lanes (little-endian): even entries in the low halves,
      // odd ones in the high halves; widened with a mask and a shift (no shuffles).
      let pairs = unsafeBitCast(q, to: SIMD8<UInt64>.self)
      let even = pairs & low32, odd = pairs &>> 32
      evenSquares &+= even &* even
      oddSquares &+= odd &* odd
      rowLanes[k] += RowEntropy.negativePLogP(clamped)
      let slot = clamp((clamped &>> shift) &- keyBase, top: top) &+ laneOffset
      UnsafeMutableRawPointer(scatter).storeBytes(of: slot, as: SIMD16<Int32>.self)
      for l in 0..<16 { histograms[Int(scatter[l])] &+= 1 }
    }
    for l in 0..<16 { sums[e + l] &+= UInt64(UInt32(bitPattern: qSums[l])) }
    for j in 0..<8 {
      squares[e + 2 * j] &+= evenSquares[j]
      squares[e + 2 * j + 1] &+= oddSquares[j]
    }
  }

  @inline(__always)
  private static func accumulateOne(_ bits: UInt32, entry e: Int, binning: Binning, counts: UnsafeMutablePointer<UInt16>,
                                    sums: UnsafeMutablePointer<UInt64>, squares: UnsafeMutablePointer<UInt64>)
  {
    let scale = Float(1 << AttentionStatistics.valueScaleBits)
    let clamped = min(max(Int32(bitPattern: bits), 0), 0x3F80_0000)
    let shifted = Float(bitPattern: UInt32(clamped)) * scale + scale
    let q = UInt64(shifted.bitPattern &- 0x4B00_0000)
    sums[e] &+= q
    squares[e] &+= q &* q
    counts[e * binning.bins + binning.index(bits: bits)] &+= 1
  }

  /// The bits of floats clamped to [0, 1] (see `Binning`), with integer operations only: the
  /// standard library's generic `pointwiseMin`/`pointwiseMax` are not inlined into this loop.
  @inline(__always)
  static func clampToUnit(_ bits: SIMD16<Int32>) -> SIMD16<Int32> {
    let x = clamp(bits, top: SIMD16(repeating: 0x3F80_0000))
    // Subnormals (exponent field 0) become 0: arithmetic on them can be slow.
    return x & ~(((x &>> 23) &- 1) &>> 31)
  }

  /// `min(max(x, 0), top)` lane-wise, for `top ≥ 0`, without overflow.
  @inline(__always)
  static func clamp(_ x: SIMD16<Int32>, top: SIMD16<Int32>) -> SIMD16<Int32> {
    let nonNegative = x & ~(x &>> 31)  // max(x, 0)
    let d = nonNegative &- top
    return top &+ (d & (d &>> 31))  // top + min(x - top, 0)
  }
}
