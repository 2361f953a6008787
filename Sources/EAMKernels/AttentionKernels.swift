import CEAMKernels

/// A head's EAM frozen entries in the fused attention's layout (`eam_attention.h`): the pointers
/// are the caller's and must stay valid for the call. A frozen entry's value is code × `codeScale`.
///
/// - `mask`: `Kernels.attentionMaskWords(tokens:)` words; bit l of `mask[g * tokens + j]` is set
///   when entry (query 64g + l, key j) is frozen (64 queries are one word per key).
/// - `dead`: `Kernels.attentionDeadWords(tokens:)` words; per 64 queries g, bit j % 64 of word
///   `g * ceil(tokens / 64) + j / 64` is set when key j has neither a free entry nor a nonzero
///   frozen value among them.
/// - entries: the (query block, key) pairs with a nonzero frozen code, block by block, by key;
///   block b's are `entryStart[b] ..< entryStart[b + 1]`, `keys[e]` is entry e's key and
///   `codes[2·codeBits·e ..< 2·codeBits·(e + 1)]` its 16 queries' codes (0 where free), `codeBits`
///   (1, 2, 4 or 8) bits each, query r's at bits r·codeBits of those bytes read little-endian.
///   `nil` when there are none.
/// - `freeMass`: per query, the mass its free entries share.
///
/// `Kernels.packFrozenForAttention` builds it from the row layout of `Kernels.softmaxFrozen`.
public struct FrozenAttention {
  public var mask: UnsafePointer<UInt64>
  public var dead: UnsafePointer<UInt64>
  public var entryStart: UnsafePointer<Int32>
  public var keys: UnsafePointer<Int32>?
  public var codes: UnsafePointer<UInt8>?
  public var codeBits: Int
  public var codeScale: Float
  public var freeMass: UnsafePointer<Float>

  public init(mask: UnsafePointer<UInt64>, dead: UnsafePointer<UInt64>, entryStart: UnsafePointer<Int32>,
              keys: UnsafePointer<Int32>?, codes: UnsafePointer<UInt8>?, codeBits: Int, codeScale: Float,
              freeMass: UnsafePointer<Float>) {
    self.mask = mask
    self.dead = dead
    self.entryStart = entryStart
    self.keys = keys
    self.codes = codes
    self.codeBits = codeBits
    self.codeScale = codeScale
    self.freeMass = freeMass
  }
}

extension Kernels {
  /// Queries per word of the fused attention's frozen mask; a query range starts at a multiple.
  public static let attentionQueryBlock = Int(EAM_ATTN_QBLOCK)

  /// Floats of scratch `attention` needs for `tokens` tokens and head dim `headDim`, with
  /// `keyBlock` keys per block (0: the default, all keys up to 2048). Independent of the variant.
  public static func attentionScratchCount(tokens: Int, headDim: Int, keyBlock: Int = 0) -> Int {
    eam_attention_scratch(Int32(tokens), Int32(headDim), Int32(keyBlock))
  }

  /// One head of attention, fused: `out[i] = Σ_j p_ij · v[j]` for query rows i in `rows`, with
  /// p_i = softmax over j of `scale · q[i]·k[j]` (+ `bias[i * ldb + j]`), never forming the
  /// tokens × tokens map. q, k, v are `[tokens][headDim]` with leading dimensions (column slices
  /// of the qkv projection), out has leading dimension `ldo`. With `frozen`, frozen entries keep
  /// their values and the free ones share the row's free mass, as `softmaxFrozen` does; their
  /// scores are not computed. `rows.lowerBound` is a multiple of `attentionQueryBlock` (threads
  /// split a head by query rows; each output element is the same however it is split).
  /// `scratch`: `attentionScratchCount(tokens:headDim:keyBlock:)` floats; nothing is allocated.
  @inlinable
  public static func attention(tokens: Int, headDim: Int, scale: Float, q: UnsafePointer<Float>, ldq: Int,
                               k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
                               out: UnsafeMutablePointer<Float>, ldo: Int, bias: UnsafePointer<Float>? = nil,
                               ldb: Int = 0, frozen: FrozenAttention? = nil, rows: Range<Int>? = nil,
                               keyBlock: Int = 0, scratch: UnsafeMutablePointer<Float>) {
    let rows = rows ?? 0..<tokens
    precondition(rows.lowerBound % attentionQueryBlock == 0 && rows.upperBound <= tokens,
                 "attention rows \(rows) of \(tokens) tokens")
    if let frozen {
      var f = eam_attention_frozen(mask: frozen.mask, dead: frozen.dead, entry_start: frozen.entryStart,
                                   keys: frozen.keys, codes: frozen.codes, code_bits: Int32(frozen.codeBits),
                                   code_scale: frozen.codeScale, free_mass: frozen.freeMass)
      eam_attention_fused(Int32(tokens), Int32(headDim), scale, q, Int32(ldq), k, Int32(ldk), v, Int32(ldv), out,
                          Int32(ldo), bias, Int32(ldb), &f, Int32(rows.lowerBound), Int32(rows.upperBound),
                          Int32(keyBlock), scratch)
    } else {
      eam_attention_fused(Int32(tokens), Int32(headDim), scale, q, Int32(ldq), k, Int32(ldk), v, Int32(ldv), out,
                          Int32(ldo), bias, Int32(ldb), nil, Int32(rows.lowerBound), Int32(rows.upperBound),
                          Int32(keyBlock), scratch)
    }
  }

  /// 64-bit words of a fused-attention frozen mask for `tokens` tokens, and of its dead keys.
  public static func attentionMaskWords(tokens: Int) -> Int { eam_attention_mask_words(Int32(tokens)) }
  public static func attentionDeadWords(tokens: Int) -> Int { eam_attention_dead_words(Int32(tokens)) }

  /// Entries of a head's `FrozenAttention` layout: the (16 queries, key) pairs with a frozen entry
  /// (set in `rowBits`, the row layout of `softmaxFrozen`: tokens rows of `rowLD` words) whose code
  /// (`codes`: tokens × tokens, row-major) is not 0.
  @inlinable
  public static func frozenEntriesForAttention(tokens: Int, rowBits: UnsafePointer<UInt16>, rowLD: Int,
                                               codes: UnsafePointer<UInt8>) -> Int {
    eam_attention_frozen_entries(Int32(tokens), rowBits, Int32(rowLD), codes)
  }

  /// The width of a code in the `FrozenAttention` layout for codes of `bits` bits (1...8): 1, 2, 4
  /// or 8; an entry's 16 codes take `2 * attentionCodeBits(bits:)` bytes.
  @inlinable
  public static func attentionCodeBits(bits: Int) -> Int { Int(eam_attention_code_bits(Int32(clamping: bits))) }

  /// Builds a head's `FrozenAttention` layout from its frozen bits and codes (as above; codes of
  /// free entries are not read; frozen codes below 2^`codeBits`, `codeBits` from
  /// `attentionCodeBits(bits:)`): `mask` (`attentionMaskWords(tokens:)` words), `dead`
  /// (`attentionDeadWords(tokens:)`), `entryStart` (one per 16 queries, and one more), `keys` and
  /// `entryCodes` (`frozenEntriesForAttention` entries, and `2 * codeBits` bytes each).
  @inlinable
  public static func packFrozenForAttention(tokens: Int, rowBits: UnsafePointer<UInt16>, rowLD: Int,
                                            codes: UnsafePointer<UInt8>, codeBits: Int, mask: UnsafeMutablePointer<UInt64>,
                                            dead: UnsafeMutablePointer<UInt64>, entryStart: UnsafeMutablePointer<Int32>,
                                            keys: UnsafeMutablePointer<Int32>?, entryCodes: UnsafeMutablePointer<UInt8>?) {
    eam_attention_pack_frozen(Int32(tokens), rowBits, Int32(rowLD), codes, Int32(codeBits), mask, dead, entryStart,
                              keys, entryCodes)
  }

  /// The row layout of `softmaxFrozen` (`tokens` rows of `rowLD` words) of a head's frozen bits,
  /// from its `FrozenAttention` layout's mask.
  @inlinable
  public static func frozenRowBits(tokens: Int, frozen: FrozenAttention, into rowBits: UnsafeMutablePointer<UInt16>,
                                   rowLD: Int) {
    eam_attention_row_bits(Int32(tokens), frozen.mask, rowBits, Int32(rowLD))
  }

  /// Writes a head's frozen values from its `FrozenAttention` layout into a `tokens × tokens` map
  /// (leading dimension `ld`), where their code is not 0; after `softmaxFrozen` with `codes: nil`
  /// the map is what `softmaxFrozen` gives with the codes (the unfused path of a fused head).
  @inlinable
  public static func putFrozenValues(tokens: Int, frozen: FrozenAttention, into map: UnsafeMutablePointer<Float>, ld: Int) {
    var f = eam_attention_frozen(mask: frozen.mask, dead: frozen.dead, entry_start: frozen.entryStart,
                                 keys: frozen.keys, codes: frozen.codes, code_bits: Int32(frozen.codeBits),
                                 code_scale: frozen.codeScale, free_mass: frozen.freeMass)
    eam_attention_put_frozen(Int32(tokens), &f, map, Int32(ld))
  }
}
