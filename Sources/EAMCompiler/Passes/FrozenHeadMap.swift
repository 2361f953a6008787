import EAMFormat

/// A head's frozen attention map as the EAM pass decided it: which entries are frozen and their
/// quantised values (`value = code × scale`).
public struct FrozenHeadMap: Sendable, Equatable {
  public var block: Int
  public var head: Int
  public var tokens: Int
  /// T×T, row-major (query, key): true where frozen.
  public var mask: [Bool]
  /// One code per frozen entry, in mask order, each < 2^bits.
  public var codes: [UInt8]
  public var bits: Int
  public var scale: Float

  public init(block: Int, head: Int, tokens: Int, mask: [Bool], codes: [UInt8], bits: Int, scale: Float) {
    self.block = block
    self.head = head
    self.tokens = tokens
    self.mask = mask
    self.codes = codes
    self.bits = bits
    self.scale = scale
  }

  public var frozenCount: Int { codes.count }
  public var isWholeHead: Bool { codes.count == tokens * tokens }

  /// The manifest's entry for this map (its block's `frozen` list).
  public var manifestEntry: Manifest.FrozenMap {
    var f = Manifest.FrozenMap()
    f.head = head
    f.frozenEntries = codes.count
    f.bits = bits
    f.scale = scale
    f.maskSection = maskSection
    f.valuesSection = valuesSection
    f.wholeHead = isWholeHead
    return f
  }

  public var maskSection: String { FrozenMapSections(block: block, head: head).mask }
  public var valuesSection: String { FrozenMapSections(block: block, head: head).values }

  /// The mask as bits, LSB-first (FORMAT.md).
  public var packedMask: [UInt8] {
    var out = [UInt8](repeating: 0, count: (mask.count + 7) / 8)
    for (i, m) in mask.enumerated() where m { out[i >> 3] |= 1 << UInt8(i & 7) }
    return out
  }

  /// The codes, `bits` wide each, LSB-first.
  public var packedCodes: [UInt8] {
    var out = [UInt8](repeating: 0, count: (codes.count * bits + 7) / 8)
    var bit = 0
    for c in codes {
      for b in 0..<bits where (c >> UInt8(b)) & 1 != 0 { out[(bit + b) >> 3] |= 1 << UInt8((bit + b) & 7) }
      bit += bits
    }
    return out
  }
}
