import EAMFormat

/// `eamc compile --dry-run`: what a compile would do, from the recognised model alone (no
/// calibration, nothing written): what would be frozen and quantised, the artifact's size and the
/// forward pass's FLOPs.
public struct DryRun {
  public var model: ModelDescription
  public var options: CompileOptions
  /// The artifact without EAM, laid out in memory (exact).
  public var baseBytes: Int
  public var floatBytes: Int
  /// Attention-map entries per attention block (heads × tokens²).
  public var entriesPerBlock: [Int]
  /// Multiply-adds × 2 of one image's forward pass.
  public var flops: Double

  public init(model: ModelDescription, options: CompileOptions) throws(CompileError) {
    self.model = model
    self.options = options
    var settings = EmitSettings()
    settings.precision = options.precision
    settings.quantization = options.quantization
    settings.arguments = options.normalisedArguments
    do throws(FormatError) { baseBytes = try Emitter.artifact(for: model, settings: settings).count } catch {
      throw CompileError(error.message)
    }
    floatBytes = model.parameterCount * 4
    let blocks = Calibration.attentionBlocks(model)
    let layout = MapLayout(model, blocks: blocks)
    entriesPerBlock = zip(layout.heads, layout.tokens).map { $0 * $1 * $1 }
    flops = DryRun.flops(model, layout: layout, blocks: blocks)
  }

  public var totalEntries: Int { entriesPerBlock.reduce(0, +) }
  public var frozenEntries: Int { options.eam.map { Int((Double(totalEntries) * $0.sparsity).rounded(.down)) } ?? 0 }

  /// Upper bound of the frozen maps' sections: a bit mask per head with frozen entries (before
  /// zstd) and `bits` per frozen value.
  public var mapBytesBound: Int {
    guard let e = options.eam, e.sparsity > 0 else { return 0 }
    return entriesPerBlock.reduce(0) { $0 + ($1 + 7) / 8 } + (frozenEntries * e.bits + 7) / 8
  }

  static func flops(_ m: ModelDescription, layout: MapLayout, blocks: [Int]) -> Double {
    let a = m.architecture
    var total = 0.0
    let patches = Double(a.patchTokens), patchK = Double(a.inChannels * a.patchSize * a.patchSize)
    total += 2 * patches * patchK * Double(a.embedDim)
    for b in m.blocks {
      let t = Double(a.family == .swin ? b.resolution * b.resolution : m.tokens), d = Double(b.dim)
      if !b.attentionRemoved {
        // The qkv rows stored (heads frozen whole or hallucinated have no Q, K), the projection.
        let width = a.family == .swin ? 3 * d : Double(QKVLayout(b).width)
        total += 2 * t * d * width + 2 * t * d * d
        // Q·Kᵀ for the heads that compute their map, the combinations of hallucinated heads, P·V for all.
        if let l = blocks.firstIndex(of: b.index) {
          let windows = Double(layout.windows[l]), w = Double(layout.tokens[l]), hd = d / Double(max(b.heads, 1))
          let withoutScores = Set(b.frozen.filter(\.wholeHead).map(\.head)).union(b.hallucinated.map(\.head)).count
          total += 2 * windows * Double(layout.heads[l] - withoutScores) * w * w * hd
          total += windows * Double(b.hallucinated.reduce(0) { $0 + 2 * $1.sources.count }) * w * w
          total += 2 * windows * Double(layout.heads[l]) * w * w * hd
        }
      }
      let hidden = Double(b.mlpHidden)
      total += 2 * t * d * hidden + (b.mlpRank > 0 ? 2 * t * Double(b.mlpRank) * (hidden + d) : 2 * t * hidden * d)
    }
    if a.numClasses > 0 { total += 2 * Double(a.embedDim * a.numClasses) }
    return total
  }

  /// Three significant digits: "9.21", "0.0312".
  static func gflop(_ flops: Double) -> String {
    let g = flops / 1e9
    guard g > 0, g.isFinite else { return "0" }
    var scale = 1.0, digits = 2
    while g * scale < 100 && digits < 8 { scale *= 10; digits += 1 }
    return "\((g * scale).rounded() / scale)"
  }

  public var lines: [String] {
    var out = ["dry run: nothing calibrated, nothing written"]
    out.append("  float32 weights:   \(Sizes.mib(floatBytes)) (\(Sizes.millions(model.parameterCount)) parameters)")
    out.append("  artifact, \(options.precision.rawValue):     \(Sizes.withRatio(baseBytes, float: floatBytes))")
    out.append("  forward pass:      \(DryRun.gflop(flops)) GFLOP per image")
    out.append("  attention maps:    \(entriesPerBlock.count) blocks, \(totalEntries) entries (heads × tokens²)")
    if let e = options.eam {
      out.append("  EAM would freeze:  \(frozenEntries) entries (\(e.sparsity * 100)%, budget \(e.allocation.rawValue)) to their calibrated \(e.frozenValue.rawValue) in \(e.bits) bits; which ones is decided by calibration")
      out.append("  estimated size:    at most \(Sizes.withRatio(baseBytes + mapBytesBound, float: floatBytes)) (maps at most \(Sizes.mib(mapBytesBound)) before zstd; heads frozen whole also drop their Q/K weights)")
      let images = Calibration.select(options.calibrationImages, options: options.calibration).count
      if options.statisticsFiles.isEmpty {
        out.append("  calibration:       \(images) images, \(DryRun.gflop(Double(images) * flops)) GFLOP of forward passes")
      }
      if !options.evalImages.isEmpty {
        out.append("  evaluation:        \(options.evalImages.count) held-out images × (float, EAM and 2 controls)")
      }
    } else {
      out.append("  quantised:         none (no --sparsity); weights stored as \(options.precision.rawValue)")
    }
    return out
  }

  public var json: JSON {
    var fields: [(String, JSON)] = [
      ("float32_weight_bytes", .int(floatBytes)), ("artifact_bytes_without_maps", .int(baseBytes)),
      ("gflops_per_image", .number(flops / 1e9)), ("attention_entries", .int(totalEntries)),
      ("attention_entries_per_block", .array(entriesPerBlock.map { .int($0) })),
    ]
    if let e = options.eam {
      fields += [("frozen_entries", .int(frozenEntries)), ("bits", .int(e.bits)),
                 ("map_bytes_at_most", .int(mapBytesBound)), ("artifact_bytes_at_most", .int(baseBytes + mapBytesBound))]
    }
    return .object(fields)
  }
}
