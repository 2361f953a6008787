// Hosted builds only: the embeddable core has no benchmarks.
#if !hasFeature(Embedded)
import CEAMKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("AttentionBenchmark: needs Glibc or Darwin for the clock")
#endif

/// Measures one head of attention on one thread, for the active variant: the fused kernel beside
/// the unfused composition the runtime runs today (Q·Kᵀ over the rows that have a free entry,
/// softmax or frozen softmax, P·V), in alternation.
public enum AttentionBenchmark {
  /// Which entries are frozen: none; whole 64-query × 64-key tiles (the fused kernel's query tile
  /// on AVX-512), chosen at random until the fraction is reached; or entries one by one.
  public enum Pattern: String, CaseIterable, Sendable {
    case none, tiles, scattered
  }

  public struct Result: Sendable {
    /// Medians, milliseconds per head.
    public let fusedMs: Double
    public let unfusedMs: Double
    /// Entries frozen.
    public let frozenFraction: Double
  }

  /// q, k, v are column slices of a `[tokens][3 · heads · headDim]` buffer, as the qkv projection
  /// writes them; `fraction` of the entries (of the tiles) are frozen, at small nonzero values
  /// (or zero with `zeroValues`). With `shiftMask`, a Swin-like bias tile is added to the scores:
  /// 10% of its entries `shiftMask` (the shift mask), the others in [-2, 2). Thread CPU time of each run (the
  /// machine may be shared); the
  /// first run of each warms caches; medians of `repeats`.
  public static func measure(tokens t: Int, headDim hd: Int, heads: Int = 6, pattern: Pattern, fraction: Double,
                             zeroValues: Bool = false, shiftMask: Float? = nil, repeats: Int = 9) -> Result {
    let ld = 3 * heads * hd
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    func uniform() -> Double {
      seed = seed &* 6364136223846793005 &+ 1442695040888963407
      return Double(seed >> 11) / Double(1 << 53)
    }
    let qkv = (0..<(t * ld)).map { _ in Float(uniform() * 4 - 2) }
    // Tiles in a shuffled order until `fraction` of the entries are frozen.
    let tilesPerRow = (t + 63) / 64
    var order = Array(0..<(tilesPerRow * tilesPerRow))
    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(uniform() * Double(i + 1))) }
    var tileFrozen = [Bool](repeating: false, count: order.count)
    var covered = 0
    for tile in order where Double(covered) < fraction * Double(t * t) {
      tileFrozen[tile] = true
      let i0 = tile / tilesPerRow * 64, j0 = tile % tilesPerRow * 64
      covered += (min(t, i0 + 64) - i0) * (min(t, j0 + 64) - j0)
    }
    var isFrozen = [Bool](repeating: false, count: t * t)
    for i in 0..<t where pattern != .none {
      for j in 0..<t {
        isFrozen[i * t + j] = pattern == .tiles ? tileFrozen[(i / 64) * tilesPerRow + j / 64] : uniform() < fraction
      }
    }
    // Row layout (the unfused path's) and the fused layout.
    let words = Kernels.frozenMaskWords(cols: t)
    var rowBits = [UInt16](repeating: 0, count: t * words)
    var freeMass: [Float] = [], runs: [Int32] = [], codes = [UInt8](repeating: 0, count: t * t)
    let codeScale = 0.5 / Float(255 * t)
    var frozenCount = 0
    for r in 0..<t {
      var mass: Float = 1, free = false
      for j in 0..<t {
        if isFrozen[r * t + j] {
          codes[r * t + j] = zeroValues ? 0 : UInt8(uniform() * 255)
          let v = Float(codes[r * t + j]) * codeScale
          rowBits[r * words + j / 16] |= 1 << UInt16(j % 16)
          frozenCount += 1
          mass -= v
        } else {
          free = true
        }
      }
      freeMass.append(min(1, max(0, mass)))
      if free {  // runs of rows with a free entry, joined across gaps of fewer than 6 rows
        let n = runs.count
        if n >= 2, r - Int(runs[n - 2] + runs[n - 1]) < 6 {
          runs[n - 1] = Int32(r + 1) - runs[n - 2]
        } else {
          runs += [Int32(r), 1]
        }
      }
    }
    var mask = [UInt64](repeating: 0, count: Kernels.attentionMaskWords(tokens: t))
    var dead = [UInt64](repeating: 0, count: Kernels.attentionDeadWords(tokens: t))
    let entries = Kernels.frozenEntriesForAttention(tokens: t, rowBits: rowBits, rowLD: words, codes: codes)
    var entryStart = [Int32](repeating: 0, count: (t + 15) / 16 + 1), keys = [Int32](repeating: 0, count: entries)
    var entryCodes = [UInt8](repeating: 0, count: 16 * entries)
    Kernels.packFrozenForAttention(tokens: t, rowBits: rowBits, rowLD: words, codes: codes, codeBits: 8, mask: &mask,
                                   dead: &dead, entryStart: &entryStart, keys: &keys, entryCodes: &entryCodes)

    let bias: [Float]? = shiftMask.map { m in (0..<(t * t)).map { _ in uniform() < 0.1 ? m : Float(uniform() * 4 - 2) } }
    let scale = 1 / Float(hd).squareRoot()
    var scores = [Float](repeating: 0, count: t * t)
    var out = [Float](repeating: 0, count: t * hd)
    var scratch = [Float](repeating: 0, count: Kernels.attentionScratchCount(tokens: t, headDim: hd))
    var fused: [Double] = [], unfused: [Double] = []
    qkv.withUnsafeBufferPointer { qkvp in
      mask.withUnsafeBufferPointer { m in dead.withUnsafeBufferPointer { dp in
        keys.withUnsafeBufferPointer { kp in
          entryStart.withUnsafeBufferPointer { s in
            freeMass.withUnsafeBufferPointer { f in entryCodes.withUnsafeBufferPointer { c in
              let q = qkvp.baseAddress!, k = q + hd, v = q + 2 * hd
              let frozen: FrozenAttention? = pattern == .none ? nil
                : FrozenAttention(mask: m.baseAddress!, dead: dp.baseAddress!, entryStart: s.baseAddress!, keys: kp.baseAddress,
                                  codes: c.baseAddress, codeBits: 8, codeScale: codeScale, freeMass: f.baseAddress!)
              for i in 0...max(1, repeats) {
                let t0 = cpuSeconds()
                if pattern == .none {
                  Kernels.gemmNT(m: t, n: t, k: hd, alpha: scale, a: q, lda: ld, b: k, ldb: ld, c: &scores, ldc: t)
                } else {
                  Kernels.gemmNT(runs: runs, count: runs.count / 2, n: t, k: hd, alpha: scale, a: q, lda: ld, b: k,
                                 ldb: ld, c: &scores, ldc: t)
                }
                if let bias { Kernels.add(&scores, bias, count: t * t) }
                if pattern == .none {
                  Kernels.softmax(&scores, ld: t, rows: t, cols: t)
                } else {
                  Kernels.softmaxFrozen(&scores, ld: t, rows: t, cols: t, frozen: rowBits, frozenLD: words,
                                        codes: codes, codesLD: t, codeScale: codeScale, freeMass: freeMass)
                }
                Kernels.gemmNN(m: t, n: hd, k: t, a: scores, lda: t, b: v, ldb: ld, c: &out, ldc: hd)
                let t1 = cpuSeconds()
                Kernels.attention(tokens: t, headDim: hd, scale: scale, q: q, ldq: ld, k: k, ldk: ld, v: v, ldv: ld,
                                  out: &out, ldo: hd, bias: bias, ldb: t, frozen: frozen, scratch: &scratch)
                let t2 = cpuSeconds()
                if i > 0 {
                  unfused.append(t1 - t0)
                  fused.append(t2 - t1)
                }
              }
            } }
          }
        }
      } }
    }
    func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] * 1e3 }
    return Result(fusedMs: median(fused), unfusedMs: median(unfused), frozenFraction: Double(frozenCount) / Double(t * t))
  }

  /// The calling thread's CPU time: time others take on a shared machine is not counted.
  static func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}
#endif
