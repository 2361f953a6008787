import EAMFormat
import EAMKernels

/// A head's frozen attention map, decoded at load: dense values, a bitmask and the probability
/// mass each row leaves to its free entries.
final class FrozenHead {
  /// Every entry frozen: the map is constant, no Q·Kᵀ and no softmax.
  let whole: Bool
  /// Per row `maskWords` 16-bit words, bit `j % 16` of word `j / 16` set where entry j is frozen
  /// (the layout of `Kernels.softmaxFrozen`).
  let frozenBits: [UInt16]
  let maskWords: Int
  /// T×T frozen values (0 where free).
  let values: AlignedBuffer
  /// The frozen values alone, row by row in column order, padded (what the softmax reads), and
  /// where each row's begin. Empty for a whole-frozen head.
  let packedValues: AlignedBuffer
  let valueStart: [Int32]
  /// Per row: 1 − Σ frozen values, clamped to [0, 1].
  let freeMass: AlignedBuffer
  /// The rows whose scores Q·Kᵀ computes, as (first row, count) pairs for `Kernels.gemmNT(runs:)`:
  /// the runs of rows that have a free entry, joined across gaps of fewer than `scoreGap`
  /// whole-frozen rows (a GEMM tile has 6 rows: a few unneeded rows cost less than split tiles).
  let scoreRuns: [Int32]
  static let scoreGap = 6
  /// Entries frozen.
  let frozenCount: Int
  /// The same entries in the fused attention's layout (`Kernels.attention`), when the plan runs
  /// the fused kernel for this head: a mask word per (16 queries, key), values block by block.
  let fusedMask: [UInt16]
  let fusedValues: AlignedBuffer
  let fusedValueStart: [Int32]

  init(_ f: Manifest.FrozenMap, tokens t: Int, store: WeightStore, block: Int, fused: Bool = false) throws(RuntimeError) {
    let path = store.artifact.path
    guard f.bits >= 1, f.bits <= 8, f.scale.isFinite, f.scale >= 0 else {
      throw RuntimeError("block \(block) head \(f.head): frozen map has \(f.bits) bits and scale \(f.scale)", path: path)
    }
    let entries = t * t
    let maskBytes = try store.bytes(f.maskSection, count: (entries + 7) / 8)
    var mask = [UInt8](repeating: 0, count: entries)
    var frozen = 0
    for i in 0..<entries where maskBytes[i >> 3] & (1 << UInt8(i & 7)) != 0 {
      mask[i] = 1
      frozen += 1
    }
    guard frozen == f.frozenEntries, frozen > 0 else {
      throw RuntimeError("block \(block) head \(f.head): mask marks \(frozen) entries, the manifest says \(f.frozenEntries)", path: path)
    }
    let codes = try store.bytes(f.valuesSection, count: (frozen * f.bits + 7) / 8)
    let values = AlignedBuffer(count: entries)
    var bit = 0
    let codeMask = (1 << f.bits) - 1
    for i in 0..<entries where mask[i] != 0 {
      var code = 0
      for b in 0..<f.bits where codes[(bit + b) >> 3] & (1 << UInt8((bit + b) & 7)) != 0 { code |= 1 << b }
      bit += f.bits
      values.pointer[i] = Float(code & codeMask) * f.scale
    }
    let freeMass = AlignedBuffer(count: t)
    var runs: [(Int, Int)] = []
    let words = Kernels.frozenMaskWords(cols: t)
    var bits = [UInt16](repeating: 0, count: t * words)
    for r in 0..<t {
      var mass: Float = 1
      var free = false
      var rowFrozen = 0
      for j in 0..<t {
        if mask[r * t + j] != 0 {
          rowFrozen += 1
          mass -= values.pointer[r * t + j]
          bits[r * words + j / 16] |= 1 << UInt16(j % 16)
        } else {
          free = true
        }
      }
      // The frozen entries of a row are probabilities that summed to at most 1 before each was
      // rounded to a code (by at most half a step): their sum is at most 1 + k·scale/2.
      guard -mass <= Float(rowFrozen) * f.scale / 2 + ManifestValidation.frozenMassTolerance else {
        throw RuntimeError("block \(block) head \(f.head): the frozen entries of row \(r) sum to \(1 - mass), more than 1", path: path)
      }
      freeMass.pointer[r] = min(1, max(0, mass))
      if free {
        if let last = runs.last, last.0 + last.1 == r { runs[runs.count - 1].1 += 1 } else { runs.append((r, 1)) }
      }
    }
    guard f.wholeHead == (frozen == entries) else {
      throw RuntimeError("block \(block) head \(f.head): whole_head does not match the mask", path: path)
    }
    self.whole = f.wholeHead
    // A whole-frozen head needs only the dense values (its P·V): no packed copy.
    let packed = AlignedBuffer(count: f.wholeHead ? 0 : frozen + Kernels.frozenValuePadding)
    var starts = [Int32](repeating: 0, count: t)
    var n = 0
    for r in 0..<t where !f.wholeHead {
      starts[r] = Int32(n)
      for j in 0..<t where mask[r * t + j] != 0 {
        packed.pointer[n] = values.pointer[r * t + j]
        n += 1
      }
    }
    self.packedValues = packed
    self.valueStart = starts
    self.frozenBits = bits
    self.maskWords = words
    self.values = values
    self.freeMass = freeMass
    var joined: [(Int, Int)] = []
    for run in runs {
      if let last = joined.last, run.0 - (last.0 + last.1) < Self.scoreGap {
        joined[joined.count - 1].1 = run.0 + run.1 - last.0
      } else {
        joined.append(run)
      }
    }
    self.scoreRuns = joined.flatMap { [Int32($0.0), Int32($0.1)] }
    self.frozenCount = frozen
    if fused && !f.wholeHead {
      var mask = [UInt16](repeating: 0, count: Kernels.attentionMaskWords(tokens: t))
      var blockStarts = [Int32](repeating: 0, count: (t + Kernels.attentionQueryBlock - 1) / Kernels.attentionQueryBlock)
      let values = AlignedBuffer(count: frozen + Kernels.frozenValuePadding)
      bits.withUnsafeBufferPointer { rowBits in
        starts.withUnsafeBufferPointer { rowStart in
          mask.withUnsafeMutableBufferPointer { m in
            blockStarts.withUnsafeMutableBufferPointer { st in
              Kernels.packFrozenForAttention(tokens: t, rowBits: rowBits.baseAddress!, rowLD: words,
                                             rowValues: packed.pointer, rowValueStart: rowStart.baseAddress!,
                                             mask: m.baseAddress!, values: values.pointer, valueStart: st.baseAddress!)
            }
          }
        }
      }
      fusedMask = mask
      fusedValues = values
      fusedValueStart = blockStarts
    } else {
      fusedMask = []
      fusedValues = AlignedBuffer(count: 0)
      fusedValueStart = []
    }
  }
}
