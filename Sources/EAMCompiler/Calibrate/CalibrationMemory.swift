import EAMRuntime

/// What calibration holds in memory, in bytes, worked out from the model before anything large
/// is allocated, and the plan that keeps it within a budget: groups of blocks calibrated in
/// successive passes over the images, each pass keeping only its blocks' statistics.
///
/// Per attention layer (h heads, T×T maps, w maps per image; Swin: one per window):
/// - statistics: h·T² entries × 80 bytes (32 `UInt16` counts, Σq and Σq² as `UInt64`), 16 bytes
///   of records per head, and up to three pages of rounding (`StatisticsStorage`);
/// - maps: per image of the fold buffer, h·w·T² floats and h·w slot flags
///   (`AttentionObserverSink`);
/// - encoding, when the statistics go to a file: the layer's largest section (its counts,
///   h·T²·64 bytes) as byte planes, zstd's output bound for it and zstd's context. A layer is
///   encoded after its pass, once the maps are freed: a group needs the larger of its maps and
///   its encoding.
///
/// Besides the layers: the model (the recognised weights as floats, the float artifact the
/// runtime runs, any weights it converted), the runtime's activations for the batch (its arena:
/// residual stream, normed rows, qkv or MLP hidden rows, pooled and output rows per image; one
/// T×T score map per thread and one image's patches), the batch's input and output, and a fixed
/// allowance for the process (Swift runtime, libraries, thread stacks, decoding an image).
/// Not counted: decoding unusually large image files, and what the compile passes allocate after
/// calibration (at least 16 bytes per entry for the per-entry statistics EAM ranks).
public struct CalibrationMemory: Sendable {
  /// One attention layer's needs.
  public struct Layer: Sendable {
    /// The block it is.
    public var block: Int
    public var statistics: Int
    /// Fold-buffer bytes per image.
    public var mapsPerImage: Int
    /// Bytes to encode it to a file.
    public var encoding: Int
  }

  /// Attention layers, in order.
  public let layers: [Layer]
  /// The model's weights, as the process holds them.
  public let model: Int
  /// Activations, input and output per image of a batch.
  public let perImage: Int
  /// Per-thread score maps, patches and the process allowance.
  public let fixed: Int

  /// The process allowance (measured: the Swift runtime, Foundation and the libraries, thread
  /// stacks and the decoding of a 256-pixel image stay below it).
  public static let allowance = 48 << 20
  /// zstd's compression context at the statistics' level, with room to spare.
  static let zstdContext = 8 << 20

  /// The needs of calibrating `description` in `floatModel` (its float model, already loaded).
  /// Nil if a size does not fit an `Int`.
  init?(_ description: ModelDescription, floatModel: Model) {
    let blocks = Calibration.attentionBlocks(description)
    let layout = MapLayout(description, blocks: blocks)
    let bins = Binning.standard.bins
    var layers: [Layer] = []
    for (l, b) in blocks.enumerated() {
      let h = layout.heads[l], t = layout.tokens[l], w = layout.windows[l]
      guard let entries = ByteMath.product(h, t, t),
        let arrays = ByteMath.product(entries, bins * 2 + 16),
        let statistics = ByteMath.sum(arrays, ByteMath.product(h, 16), 3 * Self.pageSize),
        let maps = ByteMath.product(h, w, t, t, 4), let mapsPerImage = ByteMath.sum(maps, ByteMath.product(h, w)),
        let counts = ByteMath.product(entries, bins * 2),
        let encoding = ByteMath.sum(counts, Self.zstdBound(counts), Self.zstdContext)
      else { return nil }
      layers.append(Layer(block: b, statistics: statistics, mapsPerImage: mapsPerImage, encoding: encoding))
    }
    guard let activations = Self.arena(description, outputWidth: floatModel.outputWidth, threads: floatModel.pool.threadCount),
      let model = ByteMath.sum(ByteMath.product(description.parameterCount, 4), floatModel.artifact.bytes.count,
                               floatModel.copiedWeightBytes),
      // The batch's input is built by appending images (up to twice its size while it grows).
      let input = ByteMath.product(2, 4, description.architecture.inChannels, description.preprocessing.cropSize,
                                   description.preprocessing.cropSize),
      let perImage = ByteMath.sum(activations.perImage, input, ByteMath.product(4, floatModel.outputWidth)),
      let fixed = ByteMath.sum(activations.fixed, Self.allowance)
    else { return nil }
    self.layers = layers
    self.model = model
    self.perImage = perImage
    self.fixed = fixed
  }

  /// Bytes the runtime's arena holds per image of a batch and independently of it (as
  /// `EAMRuntimeCore`'s `Arena` sizes it).
  static func arena(_ d: ModelDescription, outputWidth: Int, threads: Int) -> (perImage: Int, fixed: Int)? {
    let a = d.architecture
    let patch = ByteMath.product(a.inChannels, a.patchSize, a.patchSize)
    let perImage: Int?, fixed: Int?
    if a.family == .swin {
      var activation = 0, wide = 0, window = 0
      for b in d.blocks {
        guard let cells = ByteMath.product(b.resolution, b.resolution), let x = ByteMath.product(cells, b.dim),
          let qkv = ByteMath.product(3, b.dim), let w = ByteMath.product(cells, max(qkv, b.mlpHidden)),
          let n = ByteMath.product(b.windowSize, b.windowSize)
        else { return nil }
        activation = max(activation, x)
        wide = max(wide, w)
        window = max(window, n)
      }
      let grid = a.imageSize / max(1, a.patchSize)
      let finalDim = d.blocks.last?.dim ?? a.embedDim
      perImage = ByteMath.product(4, ByteMath.sum(ByteMath.product(2, activation), wide, finalDim, max(outputWidth, 1)))
      fixed = ByteMath.product(4, ByteMath.sum(ByteMath.product(grid, grid, patch), ByteMath.product(threads, window, window)))
    } else {
      let t = d.tokens, dim = a.embedDim
      let hidden = d.blocks.map(\.mlpHidden).max() ?? 0
      guard let qkv = ByteMath.product(3, dim) else { return nil }
      let rows = ByteMath.sum(ByteMath.product(2, dim), max(qkv, hidden))
      perImage = ByteMath.product(4, ByteMath.sum(ByteMath.product(t, rows), dim, max(outputWidth, 1)))
      fixed = ByteMath.product(4, ByteMath.sum(ByteMath.product(a.patchTokens, patch), ByteMath.product(threads, t, t)))
    }
    guard let perImage, let fixed else { return nil }
    return (perImage, fixed)
  }

  /// At least `ZSTD_compressBound(n)`.
  static func zstdBound(_ n: Int) -> Int? { ByteMath.sum(n, n >> 8, 1 << 17) }

  static let pageSize = 1 << 16

  /// What holding the statistics of `group` (attention layers) for one pass needs at `batch`
  /// images per fold: with `resident` the statistics of every layer are held (a compile hands
  /// them to its passes), otherwise only the group's, which are then encoded to a file.
  func need(group: Range<Int>, batch: Int, resident: Bool) -> Int? {
    let slice = layers[group]
    let maps = ByteMath.product(batch, slice.reduce(0 as Int?) { ByteMath.sum($0, $1.mapsPerImage) })
    let base = ByteMath.sum(model, ByteMath.product(batch, perImage), fixed)
    if resident {
      return ByteMath.sum(base, layers.reduce(0 as Int?) { ByteMath.sum($0, $1.statistics) }, maps)
    }
    let encoding = slice.map(\.encoding).max() ?? 0
    guard let maps else { return nil }
    return ByteMath.sum(base, slice.reduce(0 as Int?) { ByteMath.sum($0, $1.statistics) }, max(maps, encoding))
  }
}

/// How calibration proceeds within a memory budget.
public struct CalibrationPlan: Sendable, Equatable {
  /// Images per forward pass and fold (the requested batch, lowered if one block would not fit).
  public var batch: Int
  /// Attention layers of each pass over the images, in order.
  public var groups: [Range<Int>]
  /// The blocks of each group.
  public var blocks: [[Int]]
  /// The most any pass needs, in bytes.
  public var peak: Int
  public var budget: Int

  /// The fewest passes whose needs fit `budget` (ties: the smallest peak), at the requested
  /// `batch` if one block fits with it, else at the largest batch that does. Throws one line
  /// (what is needed, what the budget is) if not even one block fits one image at a time.
  public static func make(_ memory: CalibrationMemory, batch requested: Int, budget: Int, resident: Bool)
    throws(CompileError) -> CalibrationPlan
  {
    let count = memory.layers.count
    guard count > 0 else { throw CompileError("the model has no attention to calibrate") }
    func need(_ g: Range<Int>, _ b: Int) -> Int { memory.need(group: g, batch: b, resident: resident) ?? Int.max }
    let single = (0..<count).map { $0..<($0 + 1) }
    let fits = { (b: Int) in single.allSatisfy { need($0, b) <= budget } }
    var batch = max(1, requested)
    while batch > 1 && !fits(batch) { batch -= 1 }
    guard fits(batch) else { throw tooSmall(memory, budget: budget, resident: resident) }
    // The fewest contiguous groups: greedy (needs grow with the group). Then the smallest cap on
    // a group's need that still gives that many groups (binary search), to balance the groups.
    func groups(cap: Int) -> [Range<Int>] {
      var out: [Range<Int>] = [], start = 0
      for end in 1...count where end == count || need(start..<(end + 1), batch) > cap {
        out.append(start..<end)
        start = end
      }
      return out
    }
    let fewest = groups(cap: budget).count
    var low = single.map { need($0, batch) }.max()!, high = budget
    while low < high {
      let mid = low + (high - low) / 2
      if groups(cap: mid).count <= fewest { high = mid } else { low = mid + 1 }
    }
    let chosen = groups(cap: low)
    return CalibrationPlan(batch: batch, groups: chosen,
                           blocks: chosen.map { g in memory.layers[g].map(\.block) },
                           peak: chosen.map { need($0, batch) }.max()!, budget: budget)
  }

  /// The refusal: what the largest block alone needs, one image at a time.
  static func tooSmall(_ memory: CalibrationMemory, budget: Int, resident: Bool) -> CompileError {
    let worst = memory.layers.indices.max {
      (memory.need(group: $0..<($0 + 1), batch: 1, resident: resident) ?? Int.max)
        < (memory.need(group: $1..<($1 + 1), batch: 1, resident: resident) ?? Int.max)
    }!
    let layer = memory.layers[worst]
    let needed = memory.need(group: worst..<(worst + 1), batch: 1, resident: resident).map(MemoryBudget.text) ?? "more than 8 EiB"
    let model = ByteMath.sum(memory.model, memory.perImage, memory.fixed).map(MemoryBudget.text) ?? "?"
    let b = MemoryBudget.text(budget)
    if resident {
      let all = memory.layers.reduce(0 as Int?) { ByteMath.sum($0, $1.statistics) }.map(MemoryBudget.text) ?? "more than 8 EiB"
      return CompileError("memory budget \(b) is too small: compiling keeps the attention statistics of every block for the passes (\(all)); with the model and one image's maps it needs \(needed)")
    }
    return CompileError("memory budget \(b) is too small: calibrating block \(layer.block) alone needs \(needed) (its statistics \(MemoryBudget.text(layer.statistics)), the larger of one image's maps \(MemoryBudget.text(layer.mapsPerImage)) and its encoding \(MemoryBudget.text(layer.encoding)), the model and one image's activations \(model))")
  }

  /// `blocks 0–3, 4–7, 8–11`.
  public var groupText: String {
    blocks.map { b in b.count == 1 ? "\(b[0])" : "\(b.first!)–\(b.last!)" }.joined(separator: ", ")
  }
}

/// Overflow-checked byte arithmetic: nil as soon as a value does not fit an `Int` (or an operand
/// is nil).
enum ByteMath {
  static func sum(_ values: Int?...) -> Int? {
    var total = 0
    for v in values {
      guard let v else { return nil }
      let (s, overflow) = total.addingReportingOverflow(v)
      guard !overflow else { return nil }
      total = s
    }
    return total
  }

  static func product(_ values: Int?...) -> Int? {
    var total = 1
    for v in values {
      guard let v, v >= 0 else { return nil }
      let (p, overflow) = total.multipliedReportingOverflow(by: v)
      guard !overflow else { return nil }
      total = p
    }
    return total
  }
}
