import EAMFormat
import EAMKernels

/// A head's frozen attention map, decoded at load: a bitmask, the values and the probability mass
/// each row leaves to its free entries.
final class FrozenHead {
  /// Every entry frozen: the map is constant, no Q·Kᵀ and no softmax.
  let whole: Bool
  /// Per row `maskWords` 16-bit words, bit `j % 16` of word `j / 16` set where entry j is frozen
  /// (the layout of `Kernels.softmaxFrozen`). Empty for a fused head: `rowBits(tokens:)` derives them
  /// from the fused mask when its unfused path runs.
  let frozenBits: [UInt16]
  let maskWords: Int
  /// T×T frozen values of a head frozen whole (its constant map); empty otherwise.
  let values: AlignedBuffer
  /// T×T codes (0 where free), the row layout's values: entry j of row r is
  /// `rowCodes[r * T + j]` × `codeScale`. Empty for a whole-frozen head, and for a fused one (its
  /// unfused path, when an observer needs the map, takes the values from the fused layout).
  let rowCodes: [UInt8]
  /// Per row: 1 − Σ frozen values, clamped to [0, 1].
  let freeMass: AlignedBuffer
  /// The rows whose scores Q·Kᵀ computes, as (first row, count) pairs for `Kernels.gemmNT(runs:)`:
  /// the runs of rows that have a free entry, joined across gaps of fewer than `scoreGap`
  /// whole-frozen rows (a GEMM tile has 6 rows: a few unneeded rows cost less than split tiles).
  let scoreRuns: [Int32]
  static let scoreGap = 6
  /// Entries frozen.
  let frozenCount: Int
  /// The same entries in the fused attention's layout (`FrozenAttention`), when the plan runs the
  /// fused kernel for this head: a mask word per (64 queries, key), the keys dead for 64 queries,
  /// and the (16 queries, key) pairs with a nonzero code, each with its 16 codes of `codeBits`
  /// bits (value = code × `codeScale`).
  let fusedMask: [UInt64]
  let fusedDead: [UInt64]
  let fusedEntryStart: [Int32]
  let fusedKeys: [Int32]
  let fusedCodes: [UInt8]
  let codeBits: Int
  let codeScale: Float

  /// Reads and decodes on this thread.
  convenience init(_ f: Manifest.FrozenMap, tokens t: Int, store: WeightStore, block: Int, fused: Bool = false) throws(RuntimeError) {
    try self.init(FrozenMapBytes(f, tokens: t, store: store, block: block), tokens: t, path: store.artifact.path, fused: fused)
  }

  /// Decodes a map whose bytes were read: no store is touched, so heads decode on any thread.
  init(_ source: FrozenMapBytes, tokens t: Int, path: String, fused: Bool) throws(RuntimeError) {
    let f = source.map, block = source.block
    let entries = t * t
    let maskBytes = source.mask, packedCodes = source.packed
    let frozen = f.frozenEntries
    let words = Kernels.frozenMaskWords(cols: t)
    var codes = [UInt8](repeating: 0, count: entries)  // T×T, 0 where free
    var bits = [UInt16](repeating: 0, count: t * words)
    var rowFrozen = [Int32](repeating: 0, count: t)
    let freeMass = AlignedBuffer(count: t)
    let decoded = maskBytes.withUnsafeBufferPointer { m in
      packedCodes.withUnsafeBufferPointer { p in
        Kernels.decodeFrozenMap(tokens: t, bits: f.bits, scale: f.scale, mask: m.baseAddress!, packed: p,
                                rowBits: &bits, rowLD: words, codes: &codes, rowFrozen: &rowFrozen, rowMass: freeMass.pointer)
      }
    }
    guard decoded else {
      throw RuntimeError("block \(block) head \(f.head): frozen codes run past their section", path: path)
    }
    func value(_ i: Int) -> Float { Float(codes[i]) * f.scale }
    var runs: [(Int, Int)] = []
    for r in 0..<t {
      let mass = freeMass.pointer[r]
      // The frozen entries of a row are probabilities that summed to at most 1 before each was
      // rounded to a code (by at most half a step): their sum is at most 1 + k·scale/2.
      guard -mass <= Float(rowFrozen[r]) * f.scale / 2 + ManifestValidation.frozenMassTolerance else {
        throw RuntimeError("block \(block) head \(f.head): the frozen entries of row \(r) sum to \(1 - mass), more than 1", path: path)
      }
      freeMass.pointer[r] = min(1, max(0, mass))
      if Int(rowFrozen[r]) < t {
        if let last = runs.last, last.0 + last.1 == r { runs[runs.count - 1].1 += 1 } else { runs.append((r, 1)) }
      }
    }
    guard f.wholeHead == (frozen == entries) else {
      throw RuntimeError("block \(block) head \(f.head): whole_head does not match the mask", path: path)
    }
    self.whole = f.wholeHead
    // A whole-frozen head needs only the dense values (its P·V): no codes.
    self.rowCodes = f.wholeHead || fused ? [] : codes
    self.frozenBits = fused && !f.wholeHead ? [] : bits
    self.maskWords = words
    let values = AlignedBuffer(count: f.wholeHead ? entries : 0)
    for i in 0..<values.count { values.pointer[i] = value(i) }
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
    codeScale = f.scale
    let codeBits = Kernels.attentionCodeBits(bits: f.bits)
    self.codeBits = codeBits
    if fused && !f.wholeHead {
      let (mask, dead, starts, keys, entryCodes) = bits.withUnsafeBufferPointer { rowBits in
        codes.withUnsafeBufferPointer { c in
          let n = Kernels.frozenEntriesForAttention(tokens: t, rowBits: rowBits.baseAddress!, rowLD: words, codes: c.baseAddress!)
          var mask = [UInt64](repeating: 0, count: Kernels.attentionMaskWords(tokens: t))
          var dead = [UInt64](repeating: 0, count: Kernels.attentionDeadWords(tokens: t))
          var starts = [Int32](repeating: 0, count: (t + Kernels.attentionQueryBlock - 1) / Kernels.attentionQueryBlock + 1)
          var keys = [Int32](repeating: 0, count: n), entryCodes = [UInt8](repeating: 0, count: 2 * codeBits * n)
          Kernels.packFrozenForAttention(tokens: t, rowBits: rowBits.baseAddress!, rowLD: words, codes: c.baseAddress!,
                                         codeBits: codeBits, mask: &mask, dead: &dead, entryStart: &starts, keys: &keys,
                                         entryCodes: &entryCodes)
          return (mask, dead, starts, keys, entryCodes)
        }
      }
      fusedMask = mask
      fusedDead = dead
      fusedEntryStart = starts
      fusedKeys = keys
      fusedCodes = entryCodes
    } else {
      fusedMask = []
      fusedDead = []
      fusedEntryStart = []
      fusedKeys = []
      fusedCodes = []
    }
  }

  /// The frozen bits in the row layout: stored, or from the fused layout.
  func rowBits(tokens t: Int) -> [UInt16] {
    guard frozenBits.isEmpty else { return frozenBits }
    var bits = [UInt16](repeating: 0, count: t * maskWords)
    withFused { f in Kernels.frozenRowBits(tokens: t, frozen: f, into: &bits, rowLD: maskWords) }
    return bits
  }

  /// The fused layout for a call (a fused head's).
  func withFused<R>(_ body: (FrozenAttention) -> R) -> R {
    fusedMask.withUnsafeBufferPointer { m in
      fusedDead.withUnsafeBufferPointer { d in
        fusedEntryStart.withUnsafeBufferPointer { st in
          fusedKeys.withUnsafeBufferPointer { keys in
            fusedCodes.withUnsafeBufferPointer { codes in
              body(FrozenAttention(mask: m.baseAddress!, dead: d.baseAddress!, entryStart: st.baseAddress!,
                                   keys: keys.baseAddress, codes: codes.baseAddress, codeBits: codeBits,
                                   codeScale: codeScale, freeMass: freeMass.pointer))
            }
          }
        }
      }
    }
  }
}

/// A frozen map's manifest entry and its two sections' bytes, read from the store in manifest
/// order, the mask's count checked against the manifest; `FrozenHead` decodes them.
struct FrozenMapBytes {
  let map: Manifest.FrozenMap
  let block: Int
  let mask: [UInt8]
  let packed: [UInt8]

  init(_ f: Manifest.FrozenMap, tokens t: Int, store: WeightStore, block: Int) throws(RuntimeError) {
    let path = store.artifact.path
    guard f.bits >= 1, f.bits <= 8, f.scale.isFinite, f.scale >= 0 else {
      throw RuntimeError("block \(block) head \(f.head): frozen map has \(f.bits) bits and scale \(f.scale)", path: path)
    }
    map = f
    self.block = block
    // t ≤ 65536 (the plans check it): t² and the code bits fit an Int.
    mask = try store.bytes(f.maskSection, count: (t * t + 7) / 8)
    let frozen = mask.withUnsafeBufferPointer { Kernels.frozenMapCount(tokens: t, mask: $0.baseAddress!) }
    guard frozen == f.frozenEntries, frozen > 0 else {
      throw RuntimeError("block \(block) head \(f.head): mask marks \(frozen) entries, the manifest says \(f.frozenEntries)", path: path)
    }
    packed = try store.bytes(f.valuesSection, count: (frozen * f.bits + 7) / 8)
  }
}

extension FrozenHead {
  /// Decodes independent heads over the pool's threads (each head's decode and fused layout touch
  /// T² entries); the first failure in `maps` order is thrown, as one thread would have.
  static func decode(_ maps: [FrozenMapBytes], tokens: Int, path: String, fused: Bool,
                     pool: ThreadPool) throws(RuntimeError) -> [FrozenHead] {
    let heads = UnsafeMutableBufferPointer<FrozenHead?>.allocate(capacity: maps.count)
    let errors = UnsafeMutableBufferPointer<RuntimeError?>.allocate(capacity: maps.count)
    heads.initialize(repeating: nil)
    errors.initialize(repeating: nil)
    defer {
      heads.deinitialize().deallocate()
      errors.deinitialize().deallocate()
    }
    maps.withUnsafeBufferPointer { m in
      pool.parallelFor(m.count, Decode(maps: m, tokens: tokens, path: path, fused: fused, heads: heads, errors: errors))
    }
    var out: [FrozenHead] = []
    for i in 0..<maps.count {
      if let e = errors[i] { throw e }
      out.append(heads[i]!)
    }
    return out
  }

  private struct Decode: ParallelBody {
    let maps: UnsafeBufferPointer<FrozenMapBytes>
    let tokens: Int
    let path: String
    let fused: Bool
    let heads: UnsafeMutableBufferPointer<FrozenHead?>
    let errors: UnsafeMutableBufferPointer<RuntimeError?>

    func run(_ i: Int) {
      do throws(RuntimeError) {
        heads[i] = try FrozenHead(maps[i], tokens: tokens, path: path, fused: fused)
      } catch {
        errors[i] = error
      }
    }
  }
}
