import EAMFormat

/// What the EAM pass needs to know about one head's attention map over the calibration set.
public struct HeadEntryStatistics: Sendable {
  public var tokens: Int
  /// Per entry (T×T, row-major): Shannon entropy of the coefficient's histogram across images.
  public var entropy: [Float]
  /// Per entry: mean, median and standard deviation across images.
  public var mean: [Float]
  public var median: [Float]
  public var std: [Float]
  /// Per entry: the output error a unit squared change of the coefficient causes, measured on
  /// calibration images (`OutputSensitivity`); nil until measured.
  public var sensitivity: [Float]?

  public init(tokens: Int, entropy: [Float], mean: [Float], median: [Float], std: [Float], sensitivity: [Float]? = nil) {
    self.tokens = tokens
    self.entropy = entropy
    self.mean = mean
    self.median = median
    self.std = std
    self.sensitivity = sensitivity
  }

  /// Per entry: E[(a − c)²] over the calibration images for the frozen value c (variance plus
  /// the squared distance of the mean from c).
  func squaredError(_ value: FrozenValue) -> [Float] {
    switch value {
    case .median: return (0..<std.count).map { e in std[e] * std[e] + (mean[e] - median[e]) * (mean[e] - median[e]) }
    case .mean: return (0..<std.count).map { e in std[e] * std[e] }
    case .zero: return (0..<std.count).map { e in std[e] * std[e] + mean[e] * mean[e] }
    }
  }
}

/// How entries are ranked for freezing.
public enum SelectionCriterion: String, Sendable, CaseIterable {
  /// Lowest entropy weighted by what the entry costs the output first: entropy × s^¼, ties
  /// (entropy 0) broken by std × s^½, with s the entry's measured output sensitivity (the
  /// default; needs calibration images).
  case weightedEntropy = "weighted-entropy"
  /// Lowest histogram entropy first, standard deviation breaking ties (the paper's criterion).
  case entropy
  /// Lowest standard deviation first (a control).
  case std
  /// Uniformly random (a control).
  case random
}

/// The constant a frozen entry keeps.
public enum FrozenValue: String, Sendable, CaseIterable {
  /// The median of the entry over the calibration images (the default). Frozen coefficients are
  /// skewed (mostly small, now and then large): the mean follows the rare large values and
  /// over-weights the frozen keys in the typical image, the median does not.
  case median
  /// The mean over the calibration images (the least squared error per entry).
  case mean
  /// 0: the frozen entry's key is dropped for its query, its probability going to the free
  /// entries. What lets the fused kernel skip a frozen key's P·V (every value of a column 0).
  case zero
}

/// How the sparsity budget is shared out.
public enum BudgetAllocation: String, Sendable, CaseIterable {
  /// One ranking over every entry of the model.
  case global
  /// The same fraction in every layer.
  case perLayer = "per-layer"
  /// The same fraction in every head.
  case perHead = "per-head"
}

/// What is frozen together.
public enum FrozenGranularity: String, Sendable, CaseIterable {
  /// Single entries, wherever they rank (the paper's).
  case entry
  /// Whole tiles of `EAMPass.tileQueries` queries × `EAMPass.tileKeys` keys, ranked by the mean
  /// rank key of their entries: the units the fused attention kernel skips Q·Kᵀ, exponentials
  /// and (when frozen at 0) P·V of.
  case tile
  /// One key's entries for a query tile: `EAMPass.tileQueries` queries × 1 key, ranked the same
  /// way. Finer than a tile; what the kernel skips for it: the key's exponentials, and its P·V
  /// when every value is 0 (Q·Kᵀ only where 6 such keys in a row are frozen).
  case column

  /// Queries × keys frozen together (nil: single entries).
  public var shape: (queries: Int, keys: Int)? {
    switch self {
    case .entry: nil
    case .tile: (EAMPass.tileQueries, EAMPass.tileKeys)
    case .column: (EAMPass.tileQueries, 1)
    }
  }
}

/// Settings of the EAM pass.
public struct EAMOptions: Sendable {
  /// Fraction of all attention-map entries to freeze, 0...1.
  public var sparsity: Double = 0.2
  /// Bits per frozen value, 1...8.
  public var bits: Int = 2
  public var criterion: SelectionCriterion = .weightedEntropy
  public var allocation: BudgetAllocation = .global
  public var frozenValue: FrozenValue = .median
  public var granularity: FrozenGranularity = .entry
  /// Seed of the random control.
  public var seed: UInt64 = 0x5EED
  /// Absolute resolution at which entry entropies are measured (bins below it merge); nil
  /// (`auto`): the compiler tries `EAMOptions.resolutionCandidates` and keeps the one that best
  /// preserves the output on calibration images.
  public var entropyResolution: Float? = EAMOptions.defaultEntropyResolution
  /// 1/128: on held-out images it met the fidelity targets at every sparsity from 10% to 50%
  /// and never fell below the standard-deviation control (1/256 trails it at 50%, and `auto`,
  /// judged on the images the statistics came from, picked 1/64 = the control at 30%).
  public static let defaultEntropyResolution: Float = 1.0 / 128
  public static let resolutionCandidates: [Float] = [1.0 / 256, 1.0 / 128, 1.0 / 64]
  public init() {}
}

/// EAM: freezes the attention-map entries that carry the least information across inputs to a
/// calibrated constant stored in a few bits. A value → value transform of the model description.
public enum EAMPass {
  /// A frozen tile (`FrozenGranularity.tile`): the fused kernel's query tile (64 queries on
  /// AVX-512; the 16 of AVX2 and the portable path divide it) by 48 keys (eight of its 6-key
  /// Q·Kᵀ register tiles, one 48-key P·V sub-block). Tiles start at query and key 0; those at
  /// the map's right and bottom edges are smaller.
  public static let tileQueries = 64, tileKeys = 48

  /// `statistics[layer][head]` for every block that has attention (nil for removed attention).
  public static func apply(_ model: ModelDescription, statistics: [[HeadEntryStatistics]?], options: EAMOptions)
    -> ModelDescription
  {
    let m = model
    typealias Key = RankKey
    var groups: [[Key]] = []  // one group per budget unit
    var rng = SplitMix64(seed: options.seed)
    var global: [Key] = []
    for (l, heads) in statistics.enumerated() {
      guard let heads else { continue }
      var layerKeys: [Key] = []
      // Hallucinated heads (an earlier pass) compute no map of their own to freeze entries of.
      let made = l < m.blocks.count ? Set(m.blocks[l].hallucinated.map(\.head)) : []
      for (h, s) in heads.enumerated() where !made.contains(h) {
        var keys: [Key] = []
        keys.reserveCapacity(s.entropy.count)
        for e in 0..<s.entropy.count {
          let (p, q): (Float, Float)
          switch options.criterion {
          case .weightedEntropy:
            // s^¼ as two square roots: exact IEEE operations, the same on every platform.
            let w = max(0, s.sensitivity?[e] ?? 1), root = w.squareRoot()
            (p, q) = (s.entropy[e] * root.squareRoot(), s.std[e] * root)
          case .entropy: (p, q) = (s.entropy[e], s.std[e])
          case .std: (p, q) = (s.std[e], s.entropy[e])
          case .random: (p, q) = (Float(rng.next() >> 40), 0)
          }
          keys.append(Key(layer: Int32(l), head: Int32(h), entry: Int32(e), primary: p, secondary: q))
        }
        if let shape = options.granularity.shape { keys = tiles(keys, tokens: s.tokens, shape: shape) }
        switch options.allocation {
        case .perHead: groups.append(keys)
        case .perLayer: layerKeys += keys
        case .global: global += keys
        }
      }
      if options.allocation == .perLayer { groups.append(layerKeys) }
    }
    if options.allocation == .global { groups = [global] }

    // Choose the lowest-ranked fraction of each group's entries (ties broken by position:
    // deterministic); tiles in rank order while they fit in it.
    var chosen: [Int: [Int32]] = [:]  // layer * 65536 + head -> entries
    for var g in groups {
      let count = Int((Double(g.reduce(0) { $0 + Int($1.size) }) * options.sparsity).rounded())
      guard count > 0 else { continue }
      g.sort {
        ($0.primary, $0.secondary, $0.layer, $0.head, $0.entry) < ($1.primary, $1.secondary, $1.layer, $1.head, $1.entry)
      }
      var taken = 0
      for k in g {
        guard taken + Int(k.size) <= count else { break }
        taken += Int(k.size)
        let key = Int(k.layer) * 65536 + Int(k.head)
        if let shape = options.granularity.shape {
          let t = statistics[Int(k.layer)]![Int(k.head)].tokens
          chosen[key, default: []] += tileEntries(Int(k.entry), tokens: t, shape: shape).map { Int32($0) }
        } else {
          chosen[key, default: []].append(k.entry)
        }
      }
    }
    return freeze(m, statistics: statistics, chosen: chosen, options: options)
  }

  /// A candidate for freezing with its rank keys: an entry (layer, head, entry), or a tile
  /// (`entry` the tile's index in its head, row-major over the tile grid; `size` its entries).
  struct RankKey {
    var layer: Int32, head: Int32, entry: Int32, primary: Float, secondary: Float, size: Int32 = 1
  }

  /// One head's entry keys as tile keys (tiles of `shape`): the mean of each tile's entries' keys.
  static func tiles(_ entries: [RankKey], tokens t: Int, shape: (queries: Int, keys: Int)) -> [RankKey] {
    let across = (t + shape.keys - 1) / shape.keys, down = (t + shape.queries - 1) / shape.queries
    var out: [RankKey] = []
    out.reserveCapacity(across * down)
    for tile in 0..<(across * down) {
      var p = 0.0, q = 0.0, n = 0
      for e in tileEntries(tile, tokens: t, shape: shape) {
        p += Double(entries[e].primary)
        q += Double(entries[e].secondary)
        n += 1
      }
      let first = entries[0]
      out.append(RankKey(layer: first.layer, head: first.head, entry: Int32(tile), primary: Float(p / Double(n)),
                         secondary: Float(q / Double(n)), size: Int32(n)))
    }
    return out
  }

  /// The entries (row-major indices of a `tokens`² map) of tile `tile` (row-major over the grid
  /// of `shape` tiles).
  static func tileEntries(_ tile: Int, tokens t: Int, shape: (queries: Int, keys: Int)) -> [Int] {
    let across = (t + shape.keys - 1) / shape.keys
    let q0 = tile / across * shape.queries, k0 = tile % across * shape.keys
    var out: [Int] = []
    out.reserveCapacity(shape.queries * shape.keys)
    for r in q0..<min(t, q0 + shape.queries) {
      for c in k0..<min(t, k0 + shape.keys) { out.append(r * t + c) }
    }
    return out
  }

  /// `model` with the `chosen` entries (`layer · 65536 + head` → entries) frozen to their
  /// calibrated values, quantised to `options.bits`.
  static func freeze(_ model: ModelDescription, statistics: [[HeadEntryStatistics]?], chosen: [Int: [Int32]],
                     options: EAMOptions) -> ModelDescription
  {
    var m = model
    // Frozen values: per head, the calibrated median (or mean) quantised to `bits` with one scale per head.
    let levels = Float((1 << options.bits) - 1)
    for key in chosen.keys.sorted() {
      let l = key / 65536, h = key % 65536
      let s = statistics[l]![h]
      let t = s.tokens
      var mask = [Bool](repeating: false, count: t * t)
      for e in chosen[key]! { mask[Int(e)] = true }
      let frozenEntries = (0..<(t * t)).filter { mask[$0] }
      var frozenValues: [Float]
      switch options.frozenValue {
      case .median: frozenValues = frozenEntries.map { s.median[$0] }
      case .mean: frozenValues = frozenEntries.map { s.mean[$0] }
      case .zero: frozenValues = [Float](repeating: 0, count: frozenEntries.count)
      }
      // A row's frozen entries hold at most its whole mass: medians need not sum to 1 (means do),
      // and the runtime refuses a row whose codes sum past 1 by more than their rounding.
      var rowSum = [Double](repeating: 0, count: t)
      for (i, e) in frozenEntries.enumerated() { rowSum[e / t] += Double(frozenValues[i]) }
      for (i, e) in frozenEntries.enumerated() where rowSum[e / t] > 1 {
        frozenValues[i] = Float(Double(frozenValues[i]) / rowSum[e / t])
      }
      let scale = bestScale(frozenValues, levels: levels)
      let codes = frozenValues.map { v -> UInt8 in
        scale > 0 ? UInt8(min(levels, max(0, (v / scale).rounded()))) : 0
      }
      let map = FrozenHeadMap(block: l, head: h, tokens: t, mask: mask, codes: codes, bits: options.bits, scale: scale)
      m.frozenMaps.append(map)
      m.blocks[l].frozen.append(map.manifestEntry)
    }
    for l in m.blocks.indices {
      let heads = m.blocks[l].heads
      let t = statistics.indices.contains(l) ? statistics[l]?.first?.tokens ?? 0 : 0
      let total = heads * t * t
      let frozen = m.blocks[l].frozen.reduce(0) { $0 + $1.frozenEntries }
      m.blocks[l].frozenFraction = total > 0 ? Float(Double(frozen) / Double(total)) : 0
    }
    return m
  }
}

extension EAMPass {
  /// The per-head scale whose codes (`round(v / scale)` clipped to `levels`) reproduce `values`
  /// with the least squared error. Frozen attention values are mostly tiny with a few large ones;
  /// `max / levels` would round the many small ones to 0, so smaller scales that clip the few
  /// large ones are tried too (max / levels · 2^-j, j = 0…15, each refined by ±1/8 steps).
  static func bestScale(_ values: [Float], levels: Float) -> Float {
    let maxValue = values.max() ?? 0
    guard maxValue > 0 else { return 0 }
    func error(_ scale: Float) -> Double {
      var e = 0.0
      for v in values {
        let q = min(levels, max(0, (v / scale).rounded())) * scale
        e += Double(v - q) * Double(v - q)
      }
      return e
    }
    var best = maxValue / levels, bestError = error(best)
    for j in 1..<16 {
      let base = maxValue / levels / Float(1 << j)
      for step in [Float(0.75), 0.875, 1, 1.125, 1.25] {
        let scale = base * step
        let e = error(scale)
        if e < bestError { (best, bestError) = (scale, e) }
      }
    }
    return best
  }
}

/// A small deterministic generator (splitmix64) for the random control.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
