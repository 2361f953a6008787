import Foundation
import Testing
import EAMKernels

/// One head's inputs: q, k and v as column slices of a qkv buffer, an optional additive bias.
struct AttentionHead {
  let t, hd, ld: Int
  let qkv: [Float]
  var bias: [Float]?

  init(t: Int, hd: Int, seed: UInt64) {
    self.t = t
    self.hd = hd
    ld = 3 * hd + 5
    qkv = values(t * ld, seed: seed).map { $0 * 3 }  // peaked rows as well as flat ones
  }

  /// A Swin-like bias: small values, some large negative ones (the shift mask).
  mutating func addBias(seed: UInt64) {
    bias = values(t * t, seed: seed).enumerated().map { i, x in i % 11 == 3 ? -100 : 2 * x }
  }
}

/// Frozen entries of a head in both layouts: the row layout of `softmaxFrozen` (as the runtime's
/// FrozenHead builds it) and the fused attention's, built by `packFrozenForAttention` with codes
/// of `codeBits` bits. A frozen value is code × scale, as in an artifact.
struct FrozenMaps {
  let t: Int
  var isFrozen: [Bool]  // t × t
  var code: [UInt8]     // t × t, 0 where free
  let scale: Float
  let codeBits: Int
  var value: [Float]    // t × t: code × scale, 0 where free
  let rowWords: Int
  var rowBits: [UInt16] = [], freeMass: [Float] = []
  var mask: [UInt64] = [], dead: [UInt64] = [], entryStart: [Int32] = [], keys: [Int32] = [], entryCodes: [UInt8] = []

  init(t: Int, frozen: (Int, Int) -> Bool, code: (Int, Int) -> UInt8, scale: Float, codeBits: Int = 8) {
    self.t = t
    self.scale = scale
    self.codeBits = codeBits
    rowWords = Kernels.frozenMaskWords(cols: t)
    let isFrozen = (0..<(t * t)).map { frozen($0 / t, $0 % t) }
    self.isFrozen = isFrozen
    let codes = (0..<(t * t)).map { isFrozen[$0] ? code($0 / t, $0 % t) : 0 }
    self.code = codes
    self.value = codes.map { Float($0) * scale }
    rowBits = [UInt16](repeating: 0, count: t * rowWords)
    for r in 0..<t {
      var mass: Float = 1
      for j in 0..<t where isFrozen[r * t + j] {
        rowBits[r * rowWords + j / 16] |= 1 << UInt16(j % 16)
        mass -= self.value[r * t + j]
      }
      freeMass.append(min(1, max(0, mass)))
    }
    let entries = Kernels.frozenEntriesForAttention(tokens: t, rowBits: rowBits, rowLD: rowWords, codes: codes)
    mask = [UInt64](repeating: 0, count: Kernels.attentionMaskWords(tokens: t))
    dead = [UInt64](repeating: 0, count: Kernels.attentionDeadWords(tokens: t))
    entryStart = [Int32](repeating: -1, count: (t + 15) / 16 + 1)
    keys = [Int32](repeating: -1, count: entries)
    entryCodes = [UInt8](repeating: 0xEE, count: 2 * codeBits * entries)
    Kernels.packFrozenForAttention(tokens: t, rowBits: rowBits, rowLD: rowWords, codes: codes, codeBits: codeBits, mask: &mask,
                                   dead: &dead, entryStart: &entryStart, keys: &keys, entryCodes: &entryCodes)
    // Bits of queries past the last token are ignored: set them.
    if t % 64 != 0 { for j in 0..<t { mask[(t / 64) * t + j] |= ~((UInt64(1) << UInt64(t % 64)) - 1) } }
  }

  func withAttention<R>(_ body: (FrozenAttention) -> R) -> R {
    mask.withUnsafeBufferPointer { m in
      dead.withUnsafeBufferPointer { d in
        entryStart.withUnsafeBufferPointer { s in
          keys.withUnsafeBufferPointer { k in
            entryCodes.withUnsafeBufferPointer { c in
              freeMass.withUnsafeBufferPointer { f in
                body(FrozenAttention(mask: m.baseAddress!, dead: d.baseAddress!, entryStart: s.baseAddress!,
                                     keys: k.baseAddress, codes: c.baseAddress, codeBits: codeBits, codeScale: scale,
                                     freeMass: f.baseAddress!))
              }
            }
          }
        }
      }
    }
  }
}

/// Frozen patterns: none frozen (but a frozen map), scattered fractions, whole rows, whole 32×64
/// tiles, the whole head, and frozen zeros; values are small (a row's frozen mass is below 1)
/// except on some rows, whose frozen values sum past 1 (free mass 0).
enum FrozenPattern: CaseIterable {  // (interpolated, a case prints its name)
  case nothing, scattered30, scattered90, rows, tiles, head, zeroTiles, zeroScattered, fullMass

  /// Codes of `codeBits` bits (1, 2, 4 or 8): the 8-bit codes below, their top bits.
  func maps(t: Int, seed: UInt64, codeBits: Int = 8) -> FrozenMaps {
    var s = seed &+ UInt64(t)
    func uniform() -> Double {
      s = s &* 6364136223846793005 &+ 1442695040888963407
      return Double(s >> 11) / Double(1 << 53)
    }
    let tilesFrozen = (0..<((t / 32 + 1) * (t / 64 + 1))).map { _ in uniform() < 0.5 }
    let rowsFrozen = (0..<t).map { _ in uniform() < 0.3 }
    let scattered = (0..<(t * t)).map { _ in uniform() }
    let frozen: (Int, Int) -> Bool = { i, j in
      switch self {
      case .nothing: return false
      case .scattered30, .zeroScattered: return scattered[i * t + j] < 0.3
      case .scattered90: return scattered[i * t + j] < 0.9
      case .rows: return rowsFrozen[i]
      case .tiles, .zeroTiles: return tilesFrozen[(i / 32) * (t / 64 + 1) + j / 64]
      case .head: return true
      case .fullMass: return scattered[i * t + j] < 0.5 && i % 3 == 0
      }
    }
    // Codes of codeBits bits, all of 0 ..< 2^codeBits: values below 0.5 / t (a row's frozen mass
    // below 1), or to 4 / t (past 1). The 8-bit codes follow the entry's draw; narrower ones a
    // draw of their own (the frozen entries of scattered30 drew below 0.3).
    let top = (1 << codeBits) - 1
    let code: (Int, Int) -> UInt8 = { i, j in
      let u = codeBits == 8 ? scattered[i * t + j] : (scattered[i * t + j] * 1000).truncatingRemainder(dividingBy: 1)
      let c = UInt8(min(top, Int(u * Double(codeBits == 8 ? top : top + 1))))  // 8 bits: as drawn before
      switch self {
      case .zeroTiles, .zeroScattered: return 0
      case .fullMass: return c
      default: return j % 7 == 0 ? 0 : c
      }
    }
    return FrozenMaps(t: t, frozen: frozen, code: code, scale: (self == .fullMass ? 4 : 0.5) / Float(top * t),
                      codeBits: codeBits)
  }
}

/// The unfused composition the runtime runs today: scores, (+ bias), softmax or frozen softmax, P·V.
func unfusedAttention(_ h: AttentionHead, frozen: FrozenMaps?) -> [Float] {
  let t = h.t, hd = h.hd, scale = 1 / Float(hd).squareRoot()
  var scores = [Float](repeating: 0, count: t * t)
  var out = [Float](repeating: 0, count: t * hd)
  h.qkv.withUnsafeBufferPointer { qkv in
    let q = qkv.baseAddress!, k = q + hd, v = q + 2 * hd
    Kernels.gemmNT(m: t, n: t, k: hd, alpha: scale, a: q, lda: h.ld, b: k, ldb: h.ld, c: &scores, ldc: t)
    if let bias = h.bias { Kernels.add(&scores, bias, count: t * t) }
    if let f = frozen {
      Kernels.softmaxFrozen(&scores, ld: t, rows: t, cols: t, frozen: f.rowBits, frozenLD: f.rowWords,
                            codes: f.code, codesLD: t, codeScale: f.scale, freeMass: f.freeMass)
    } else {
      Kernels.softmax(&scores, ld: t, rows: t, cols: t)
    }
    Kernels.gemmNN(m: t, n: hd, k: t, a: scores, lda: t, b: v, ldb: h.ld, c: &out, ldc: hd)
  }
  return out
}

/// The fused kernel over all rows, in ranges cut at `splits` (or over `only`), into an output of
/// 7s with leading dimension hd + 3; the scratch starts as NaN (nothing may read it unset).
func fusedAttention(_ h: AttentionHead, frozen: FrozenMaps?, keyBlock: Int = 0, splits: [Int] = [],
                    only: Range<Int>? = nil) -> [Float] {
  let t = h.t, hd = h.hd, ldo = hd + 3
  var out = [Float](repeating: 7, count: t * ldo)
  var scratch = [Float](repeating: .nan, count: Kernels.attentionScratchCount(tokens: t, headDim: hd, keyBlock: keyBlock))
  let cuts = [0] + splits + [t]
  let ranges = only.map { [$0] } ?? (0..<(cuts.count - 1)).map { cuts[$0]..<cuts[$0 + 1] }
  func run(_ f: FrozenAttention?) {
    h.qkv.withUnsafeBufferPointer { qkv in
      let q = qkv.baseAddress!
      for rows in ranges {
        Kernels.attention(tokens: t, headDim: hd, scale: 1 / Float(hd).squareRoot(), q: q, ldq: h.ld, k: q + hd,
                          ldk: h.ld, v: q + 2 * hd, ldv: h.ld, out: &out, ldo: ldo, bias: h.bias, ldb: t, frozen: f,
                          rows: rows, keyBlock: keyBlock, scratch: &scratch)
      }
    }
  }
  if let frozen { frozen.withAttention { run($0) } } else { run(nil) }
  return out
}

/// Largest relative error of an output row, ‖Δ‖∞ / ‖row‖∞ (a zero row must come out zero);
/// also checks the padding columns of `fused` (leading dimension hd + 3) kept their 7s.
func worstRowError(_ fused: [Float], _ reference: [Float], t: Int, hd: Int, refLD: Int? = nil) -> Double {
  let ldo = hd + 3, ldr = refLD ?? hd
  var worst = 0.0
  for i in 0..<t {
    var err = 0.0, size = 0.0
    for d in 0..<hd {
      let x = Double(fused[i * ldo + d]), r = Double(reference[i * ldr + d])
      err = max(err, abs(x - r).isNaN ? .infinity : abs(x - r))
      size = max(size, abs(r))
    }
    for d in hd..<ldo where fused[i * ldo + d] != 7 { err = .infinity }
    worst = max(worst, size > 0 ? err / size : err > 0 ? .infinity : 0)
  }
  return worst
}

/// Tolerance of a fused row against the unfused composition (the exponentials are summed in another
/// order, P·V accumulates over keys in other blocks).
let attentionTolerance = 1e-5

/// Prints the worst error seen by each test when EAM_ATTENTION_REPORT is set (for docs/ATTENTION.md).
func reportWorst(_ name: String, _ worst: Double) {
  if ProcessInfo.processInfo.environment["EAM_ATTENTION_REPORT"] != nil { print("attention \(name): worst \(worst)") }
}

@Suite struct FusedAttention {
  /// Every variant against the unfused composition with the same variant: odd token counts, head
  /// dims 32 and 64, every frozen pattern, with and without a bias (large sizes: fewer patterns).
  @Test(arguments: [1, 2, 7, 17, 50, 197, 257, 600, 1370])
  func matchesUnfused(t: Int) {
    let patterns: [FrozenPattern?] = t >= 600 ? [nil, .scattered30, .tiles, .zeroTiles, .rows]
      : [nil] + FrozenPattern.allCases
    let allMaps = patterns.map { $0?.maps(t: t, seed: 77) }
    var worst = 0.0
    for hd in [32, 64] {
      for withBias in t >= 600 ? [false] : [false, true] {
        var head = AttentionHead(t: t, hd: hd, seed: UInt64(1000 + t + hd))
        if withBias { head.addBias(seed: UInt64(t)) }
        for (pattern, maps) in zip(patterns, allMaps) {
          forEachVariant { v in
            if t >= 1370 && v == .scalar && hd == 32 { return }  // the portable path is slow; hd 64 covers it
            let e = worstRowError(fusedAttention(head, frozen: maps), unfusedAttention(head, frozen: maps), t: t, hd: hd)
            worst = max(worst, e)
            #expect(e <= attentionTolerance,
                    "\(v.name) T \(t) hd \(hd) bias \(withBias) \(pattern.map { "\($0)" } ?? "no map"): error \(e)")
          }
        }
      }
    }
    reportWorst("T \(t)", worst)
  }

  /// Several key blocks (the online softmax: running max and sum, accumulators rescaled, frozen
  /// part apart) give what one block gives.
  @Test(arguments: [17, 100, 257])
  func keyBlocksMatchUnfused(t: Int) {
    var worst = 0.0
    for pattern in [nil] + FrozenPattern.allCases {
      var head = AttentionHead(t: t, hd: 64, seed: UInt64(5 + t))
      head.addBias(seed: 9)
      let maps = pattern?.maps(t: t, seed: 3)
      forEachVariant { v in
        let reference = unfusedAttention(head, frozen: maps)
        for keyBlock in [1, 16, 48, 100] {
          let e = worstRowError(fusedAttention(head, frozen: maps, keyBlock: keyBlock), reference, t: t, hd: 64)
          worst = max(worst, e)
          #expect(e <= attentionTolerance, "\(v.name) T \(t) key block \(keyBlock) \(pattern.map { "\($0)" } ?? "no map"): \(e)")
        }
      }
    }
    reportWorst("key blocks T \(t)", worst)
  }

  /// Head dims that are not multiples of 8 (the portable path under every variant) and others.
  @Test func otherHeadDimsMatchUnfused() {
    for hd in [1, 12, 20, 48, 80, 128] {
      for pattern: FrozenPattern? in [nil, .scattered30, .rows] {
        var head = AttentionHead(t: 45, hd: hd, seed: UInt64(hd))
        head.addBias(seed: 1)
        let maps = pattern?.maps(t: 45, seed: 6)
        forEachVariant { v in
          let e = worstRowError(fusedAttention(head, frozen: maps), unfusedAttention(head, frozen: maps), t: 45, hd: hd)
          #expect(e <= attentionTolerance, "\(v.name) hd \(hd) \(pattern.map { "\($0)" } ?? "no map"): \(e)")
        }
      }
    }
  }

  /// Each variant agrees with the portable one.
  @Test(arguments: [7, 50, 257, 600])
  func variantsAgreeWithPortable(t: Int) {
    var worst = 0.0
    for pattern: FrozenPattern? in [nil, .scattered30, .tiles, .rows, .fullMass] {
      for hd in [32, 64, 40] {
        let head = AttentionHead(t: t, hd: hd, seed: UInt64(31 + t))
        let maps = pattern?.maps(t: t, seed: 11)
        let portable = KernelVariant.scalar.withThreadVariant { fusedAttention(head, frozen: maps) }
        forEachVariant { v in
          let e = worstRowError(fusedAttention(head, frozen: maps), portable, t: t, hd: hd, refLD: hd + 3)
          worst = max(worst, e)
          #expect(e <= attentionTolerance, "\(v.name) T \(t) hd \(hd) \(pattern.map { "\($0)" } ?? "no map"): \(e)")
        }
      }
    }
    reportWorst("variants T \(t)", worst)
  }

  /// Codes of 1, 2 and 4 bits (an entry's 16 codes in 2, 4 or 8 bytes): every variant against the
  /// unfused composition and against the portable variant, in one and in several key blocks.
  @Test(arguments: [1, 2, 4])
  func narrowCodesMatchUnfused(codeBits: Int) {
    var worst = 0.0
    for t in [17, 50, 257, 600] {
      for pattern in [FrozenPattern.scattered30, .tiles, .rows, .fullMass] {
        var head = AttentionHead(t: t, hd: 64, seed: UInt64(40 + t))
        if t < 600 { head.addBias(seed: 2) }
        let maps = pattern.maps(t: t, seed: 19, codeBits: codeBits)
        #expect(maps.code.contains { $0 >= 1 << (codeBits - 1) } && maps.code.allSatisfy { $0 < 1 << codeBits })
        let reference = unfusedAttention(head, frozen: maps)
        let portable = KernelVariant.scalar.withThreadVariant { fusedAttention(head, frozen: maps) }
        forEachVariant { v in
          for keyBlock in t < 600 ? [0, 48] : [0] {
            let fused = fusedAttention(head, frozen: maps, keyBlock: keyBlock)
            let e = max(worstRowError(fused, reference, t: t, hd: 64),
                        keyBlock == 0 ? worstRowError(fused, portable, t: t, hd: 64, refLD: 64 + 3) : 0)
            worst = max(worst, e)
            #expect(e <= attentionTolerance, "\(v.name) \(codeBits)-bit codes T \(t) key block \(keyBlock) \(pattern): \(e)")
          }
        }
      }
    }
    reportWorst("\(codeBits)-bit codes", worst)
  }

  /// Splitting a head by query rows (as threads do) changes no output element.
  @Test func splitByRowsChangesNothing() {
    for t in [40, 257] {
      for pattern: FrozenPattern? in [nil, .scattered30, .rows, .fullMass] {
        let head = AttentionHead(t: t, hd: 64, seed: 8)
        let maps = pattern?.maps(t: t, seed: 4)
        forEachVariant { v in
          let whole = fusedAttention(head, frozen: maps)
          for splits in [[16], [16, 32], [48, 64, 112, 208].filter { $0 < t }] {
            #expect(fusedAttention(head, frozen: maps, splits: splits) == whole, "\(v.name) T \(t) splits \(splits)")
          }
          // A range that ends inside a query block (the rest of the block has values in the map).
          for rows in [0..<7, 0..<37, 32..<(t - 3)] {
            let part = fusedAttention(head, frozen: maps, only: rows)
            let ldo = 64 + 3
            for i in 0..<t {
              let expected = rows.contains(i) ? whole[(i * ldo)..<((i + 1) * ldo)] : [Float](repeating: 7, count: ldo)[...]
              #expect(part[(i * ldo)..<((i + 1) * ldo)] == expected, "\(v.name) T \(t) rows \(rows): row \(i)")
            }
          }
        }
      }
    }
  }

  /// Rows whose free scores are all −inf (bias), rows without free entries, free mass 0 and NaN
  /// scores on frozen entries (bias NaN there: frozen scores must not matter) behave as the
  /// frozen softmax says. Without a frozen map an all −inf row gives a zero output row.
  @Test func edgeRowsMatchTheFrozenSoftmax() {
    let t = 70, hd = 32
    let base = FrozenPattern.scattered30.maps(t: t, seed: 21)
    let scale: Float = 0.05 / 255
    let maps = FrozenMaps(t: t, frozen: { i, j in i == 5 || base.isFrozen[i * t + j] }, code: { i, j in
      i == 9 ? 255 : UInt8(min(255, (base.value[i * t + j] / scale).rounded()))
    }, scale: scale)  // row 5 all frozen, row 9's frozen mass past 1
    var head = AttentionHead(t: t, hd: hd, seed: 99)
    var bias = [Float](repeating: 0, count: t * t)
    for i in 0..<t {
      for j in 0..<t {
        if maps.isFrozen[i * t + j] { bias[i * t + j] = .nan } else if i == 12 || i == 40 { bias[i * t + j] = -.infinity }
      }
    }
    head.bias = bias
    forEachVariant { v in
      let e = worstRowError(fusedAttention(head, frozen: maps), unfusedAttention(head, frozen: maps), t: t, hd: hd)
      #expect(e <= attentionTolerance, "\(v.name): \(e)")
      var plain = head
      plain.bias = (0..<(t * t)).map { $0 / t == 12 || $0 / t == 40 ? -.infinity : 0 }
      let out = fusedAttention(plain, frozen: nil)
      for i in [12, 40] { #expect(out[(i * (hd + 3))..<(i * (hd + 3) + hd)].allSatisfy { $0 == 0 }, "\(v.name) row \(i)") }
    }
  }

  /// The unfused path of a fused head (an observer needs its map): the row bits from the attention
  /// layout's mask, the frozen softmax without codes, then the values from the attention layout,
  /// give the bits of the frozen softmax with codes.
  @Test(arguments: [1, 2, 4, 8])
  func valuesFromTheAttentionLayoutGiveTheFrozenSoftmax(codeBits: Int) {
    for t in [1, 17, 50, 257] {
      for pattern in [FrozenPattern.scattered30, .scattered90, .rows, .tiles, .zeroScattered, .fullMass, .head] {
        let maps = pattern.maps(t: t, seed: 13, codeBits: codeBits)
        var rowBits = [UInt16](repeating: 0xBEEF, count: maps.rowBits.count)
        maps.withAttention { Kernels.frozenRowBits(tokens: t, frozen: $0, into: &rowBits, rowLD: maps.rowWords) }
        #expect(rowBits == maps.rowBits, "T \(t) \(pattern): the row layout from the mask")
        let scores = values(t * t, seed: UInt64(t)).map { $0 * 6 }
        forEachVariant { v in
          var withCodes = scores, fromLayout = scores
          Kernels.softmaxFrozen(&withCodes, ld: t, rows: t, cols: t, frozen: maps.rowBits, frozenLD: maps.rowWords,
                                codes: maps.code, codesLD: t, codeScale: maps.scale, freeMass: maps.freeMass)
          Kernels.softmaxFrozen(&fromLayout, ld: t, rows: t, cols: t, frozen: maps.rowBits, frozenLD: maps.rowWords,
                                codes: nil, codesLD: 0, codeScale: maps.scale, freeMass: maps.freeMass)
          fromLayout.withUnsafeMutableBufferPointer { p in
            maps.withAttention { Kernels.putFrozenValues(tokens: t, frozen: $0, into: p.baseAddress!, ld: t) }
          }
          #expect(fromLayout.map(\.bitPattern) == withCodes.map(\.bitPattern), "\(v.name) T \(t) \(pattern) \(codeBits) bits")
        }
      }
    }
  }

  /// The attention layout, built here from its definition, equals the conversion's: the mask, the
  /// dead keys, and an entry per (16 queries, key) with a nonzero frozen code, block by block, key
  /// by key.
  /// Codes of w bits: an entry's 16 in 2w bytes, query r's at bit r·w.
  @Test(arguments: [8, 1, 2, 4])
  func packedLayoutFollowsItsDefinition(codeBits w: Int) {
    for t in [1, 16, 17, 45, 64, 65, 130, 255, 256, 257, 300, 529] {
      for pattern in [FrozenPattern.scattered30, .scattered90, .zeroScattered, .rows, .head] {
        let maps = pattern.maps(t: t, seed: 2, codeBits: w)
        let groups = (t + 63) / 64
        var mask = [UInt64](repeating: 0, count: groups * t), dead = [UInt64](repeating: 0, count: groups * groups)
        var start: [Int32] = [], keys: [Int32] = [], codes: [UInt8] = []
        for q in 0..<t {
          for j in 0..<t where maps.isFrozen[q * t + j] { mask[(q / 64) * t + j] |= 1 << UInt64(q % 64) }
        }
        for g in 0..<groups {
          for j in 0..<t {
            let queries = (64 * g)..<min(t, 64 * g + 64)
            if queries.allSatisfy({ maps.isFrozen[$0 * t + j] && maps.code[$0 * t + j] == 0 }) {
              dead[g * groups + j / 64] |= 1 << UInt64(j % 64)
            }
          }
        }
        for b in 0..<((t + 15) / 16) {
          start.append(Int32(keys.count))
          for j in 0..<t {
            let c = (0..<16).map { r in 16 * b + r < t ? maps.code[(16 * b + r) * t + j] : 0 }
            if c.contains(where: { $0 != 0 }) {
              keys.append(Int32(j))
              var packed = [UInt8](repeating: 0, count: 2 * w)
              for r in 0..<16 { packed[r * w / 8] |= c[r] << UInt8(r * w % 8) }
              codes += packed
            }
          }
        }
        start.append(Int32(keys.count))
        var converted = maps.mask
        if t % 64 != 0 { for j in 0..<t { converted[(t / 64) * t + j] &= (UInt64(1) << UInt64(t % 64)) - 1 } }
        #expect(converted == mask && maps.dead == dead, "T \(t) \(pattern) \(w) bits")
        #expect(maps.entryStart == start && maps.keys == keys && maps.entryCodes == codes, "T \(t) \(pattern) \(w) bits")
        if pattern == .zeroScattered { #expect(keys.isEmpty && maps.mask.contains { $0 != 0 }, "T \(t): zeros are mask only") }
        if t % 16 != 0 {  // bits past the last key in a row's last word are not keys
          var rowBits = maps.rowBits
          for q in 0..<t { rowBits[q * maps.rowWords + t / 16] |= ~UInt16((1 << (t % 16)) - 1) }
          var m2 = [UInt64](repeating: 0, count: maps.mask.count), d2 = [UInt64](repeating: 0, count: maps.dead.count)
          var s2 = [Int32](repeating: -1, count: start.count), k2 = [Int32](repeating: -1, count: keys.count)
          var c2 = [UInt8](repeating: 0xEE, count: codes.count)
          #expect(Kernels.frozenEntriesForAttention(tokens: t, rowBits: rowBits, rowLD: maps.rowWords, codes: maps.code) == keys.count)
          Kernels.packFrozenForAttention(tokens: t, rowBits: rowBits, rowLD: maps.rowWords, codes: maps.code, codeBits: w, mask: &m2,
                                         dead: &d2, entryStart: &s2, keys: &k2, entryCodes: &c2)
          if t % 64 != 0 { for j in 0..<t { m2[(t / 64) * t + j] &= (UInt64(1) << UInt64(t % 64)) - 1 } }
          #expect(m2 == mask && d2 == dead && s2 == start && k2 == keys && c2 == codes, "T \(t) \(pattern): bits past T")
        }
      }
    }
  }
}

@Suite struct FusedAttentionBenchmark {
  @Test func measures() {
    let r = AttentionBenchmark.measure(tokens: 70, headDim: 32, pattern: .tiles, fraction: 0.5, repeats: 1)
    #expect(r.fusedMs > 0 && r.unfusedMs > 0 && r.frozenFraction > 0 && r.frozenFraction < 1)
  }

  /// The table of docs/ATTENTION.md, for the active variant (EAM_KERNELS=avx2 for AVX2):
  /// `EAM_ATTENTION_BENCH=1 swift test --skip-build --filter FusedAttentionBenchmark`.
  @Test(.enabled(if: ProcessInfo.processInfo.environment["EAM_ATTENTION_BENCH"] != nil))
  func table() {
    let hd = 64, rounds = 5
    let cases: [(AttentionBenchmark.Pattern, Double, Bool)] = [
      (.none, 0, false), (.tiles, 0.3, false), (.tiles, 0.5, false), (.tiles, 0.5, true), (.scattered, 0.3, false),
      (.scattered, 0.5, false),
    ]
    print("| T | frozen | pattern | unfused ms | fused ms | unfused GFLOP/s | fused GFLOP/s | speed-up |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for t in [257, 1370] {
      // Rounds interleave the cases; each case's figure is the median of its rounds' medians.
      var results = [[AttentionBenchmark.Result]](repeating: [], count: cases.count)
      for _ in 0..<rounds {
        for (i, c) in cases.enumerated() {
          results[i].append(AttentionBenchmark.measure(tokens: t, headDim: hd, pattern: c.0, fraction: c.1,
                                                       zeroValues: c.2, repeats: t > 1000 ? 9 : 31))
        }
      }
      let flops = 4 * Double(t * t * hd)
      for (i, c) in cases.enumerated() {
        let fused = results[i].map(\.fusedMs).sorted()[rounds / 2], unfused = results[i].map(\.unfusedMs).sorted()[rounds / 2]
        let frozen = String(format: "%.0f%%", 100 * results[i][0].frozenFraction)
        let name = c.0 == .none ? "—" : c.0.rawValue + (c.2 ? ", zeros" : "")
        print("| \(t) | \(frozen) | \(name) | " + String(format: "%.3f | %.3f | %.1f | %.1f | %.2f× |", unfused, fused,
                                                       flops / unfused / 1e6, flops / fused / 1e6, unfused / fused))
      }
    }
    // Swin windows (head dim 32) with their bias: shift-mask entries of -100, or of -50.
    print("| window T | mask | unfused ms | fused ms | speed-up |")
    print("|---:|---:|---:|---:|---:|")
    for t in [49, 144] {
      for mask: Float in [-100, -50] {
        let r = (0..<rounds).map { _ in
          AttentionBenchmark.measure(tokens: t, headDim: 32, heads: 3, pattern: .none, fraction: 0, shiftMask: mask,
                                     repeats: 101)
        }
        let fused = r.map(\.fusedMs).sorted()[rounds / 2], unfused = r.map(\.unfusedMs).sorted()[rounds / 2]
        print("| \(t) | \(Int(mask)) | " + String(format: "%.4f | %.4f | %.2f× |", unfused, fused, unfused / fused))
      }
    }
    print("variant \(KernelVariant.active.name), CPU \(Kernels.cpuName)")
  }
}
