import EAMFormat

/// Which blocks lose their attention half, and what takes its place.
public struct AttentionRemovalOptions: Sendable, Equatable {
  public enum Selection: Sendable, Equatable {
    /// These blocks (0-based).
    case blocks([Int])
    /// The `k` blocks whose removal alone costs the least on calibration images.
    case auto(Int)
  }

  /// What a removed block computes in place of `x + attention(norm1(x))`.
  public enum Mode: String, Sendable, CaseIterable {
    /// lambda_vit's shrunk block: `x = x + x`, then the MLP half (what networks trained with
    /// lambda_vit's schedule expect).
    case lambda
    /// The residual alone: `x` unchanged, then the MLP half (post-training what-if).
    case skip

    var residual: Manifest.Residual { self == .lambda ? .double : .identity }
  }

  public var selection: Selection
  public var mode: Mode = .lambda
  /// Calibration images the `auto` ranking measures on (at most).
  public var rankingImages = 16

  public init(selection: Selection, mode: Mode = .lambda) {
    self.selection = selection
    self.mode = mode
  }

  /// `0,2,4` or `auto:K`.
  public init?(parsing text: String, mode: Mode = .lambda) {
    if text.hasPrefix("auto:") {
      guard let k = Int(text.dropFirst(5)), k > 0 else { return nil }
      self.init(selection: .auto(k), mode: mode)
      return
    }
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
    guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
    self.init(selection: .blocks(parts.map { $0! }), mode: mode)
  }

  /// As the manifest's compile flags record it.
  public var argument: String {
    switch selection {
    case .blocks(let b): b.map(String.init).joined(separator: ",")
    case .auto(let k): "auto:\(k)"
    }
  }
}

/// Attention-layer removal (lambda_vit, CVPR 2024, applied post-training): the chosen blocks keep
/// only their MLP half; their norm1, qkv, proj and layer-scale weights leave the artifact and the
/// manifest records each block's residual rule.
public struct AttentionRemoval: CompilerPass {
  public var options: AttentionRemovalOptions
  public init(options: AttentionRemovalOptions) { self.options = options }

  public var name: String { "attention_removal" }
  public var needsStatistics: Bool { false }

  public func check(_ model: ModelDescription, source: String) throws(CompileError) {
    guard model.architecture.family != .swin else {
      throw CompileError("\(source): attention removal is for ViT-family models (Swin's window attention is not removable here)")
    }
    let present = model.blocks.filter { !$0.attentionRemoved }.map(\.index)
    switch options.selection {
    case .blocks(let list):
      guard Set(list).count == list.count else { throw CompileError("--remove-attention lists a block twice") }
      for b in list where !present.contains(b) {
        throw CompileError("--remove-attention \(b): the model has blocks 0…\(model.blocks.count - 1)"
                           + (b < model.blocks.count ? " and block \(b) has no attention left" : ""))
      }
    case .auto(let k):
      guard k < present.count else {
        throw CompileError("--remove-attention auto:\(k): the model has \(present.count) blocks with attention; remove at most \(present.count - 1)")
      }
    }
  }

  public func apply(_ model: ModelDescription, _ context: inout PassContext) throws(CompileError) -> ModelDescription {
    var ranking: [RemovalCost.Candidate] = []
    let chosen: [Int]
    switch options.selection {
    case .blocks(let list): chosen = list.sorted()
    case .auto(let k):
      let images = Calibration.select(context.options.calibrationImages, options: context.options.calibration)
      guard !images.isEmpty else {
        throw CompileError("--remove-attention auto:\(k) ranks blocks on calibration images: give --calib (statistics files hold no images)")
      }
      ranking = try RemovalCost.rank(model, mode: options.mode, images: Array(images.prefix(options.rankingImages)),
                                     reference: context.floatModel, threads: context.options.threads, source: context.source)
      chosen = ranking.prefix(k).map(\.block).sorted()
    }
    let removed = AttentionRemoval.remove(chosen, from: model, mode: options.mode)
    let before = ModelCost(model), after = ModelCost(removed)
    context.record.settings = [
      ("blocks", .array(chosen.map { .int($0) })), ("mode", .string(options.mode.rawValue)),
      ("selection", .string(options.argument)),
      ("flops_saved", .number(before.flops - after.flops)), ("flops_saved_fraction", .number(1 - after.flops / before.flops)),
      ("parameters_saved", .int(before.parameters - after.parameters)),
    ]
    if !ranking.isEmpty {
      context.record.settings.append(("ranking", .array(ranking.map { c in
        .object([("block", .int(c.block)), ("mean_cosine", .number(c.fidelity.meanCosine)), ("min_cosine", .number(c.fidelity.minCosine))])
      })))
    }
    let rule = options.mode == .lambda
      ? "x = x + x, then the MLP half (lambda_vit's shrunk block)" : "x unchanged, then the MLP half (residual only)"
    let how: String
    switch options.selection {
    case .blocks: how = "Blocks given by --remove-attention"
    case .auto(let k): how = "The \(k) blocks whose removal alone costs the least (mean output cosine to the float model on \(min(options.rankingImages, ranking.isEmpty ? 0 : options.rankingImages)) calibration images)"
    }
    context.record.notes = [
      "\(how) lose their attention half: \(rule). Their norm1, qkv, proj and layer-scale weights leave the artifact.",
      "lambda_vit removes attention layers during training (DeiT-B 81.8 → 81.83 ImageNet top-1 with 40% removed); applied post-training, without that schedule, removal costs fidelity: the figures below are what it costs this checkpoint.",
    ]
    return removed
  }

  /// `model` with the attention half of `blocks` removed under `mode`.
  static func remove(_ blocks: [Int], from model: ModelDescription, mode: AttentionRemovalOptions.Mode) -> ModelDescription {
    var m = model
    for b in blocks {
      m.blocks[b].attentionRemoved = true
      m.blocks[b].residual = mode.residual
      m.blocks[b].frozen = []
      m.blocks[b].frozenFraction = 0
      let names = ViTSections.Block(b)
      for name in [names.norm1.weight, names.norm1.bias, names.qkv.weight, names.qkv.bias, names.proj.weight, names.proj.bias,
                   "blocks.\(b).ls1.gamma"] {  // the layer scale: a checkpoint name, folded into proj at emission
        m.weights[name] = nil
      }
    }
    m.frozenMaps.removeAll { blocks.contains($0.block) }
    return m
  }
}

/// A model's forward-pass FLOPs per image and parameter count, for what a pass saves.
struct ModelCost {
  var flops: Double
  var parameters: Int

  init(_ m: ModelDescription) {
    let blocks = Calibration.attentionBlocks(m)
    flops = DryRun.flops(m, layout: MapLayout(m, blocks: blocks), blocks: blocks)
    // The description keeps every qkv row; the artifact drops the Q, K rows of heads without a
    // map of their own (frozen whole, hallucinated).
    parameters = m.parameterCount - m.blocks.reduce(0) { total, b in
      guard !b.attentionRemoved, m.architecture.family != .swin else { return total }
      return total + (3 * b.dim - QKVLayout(b).width) * (b.dim + 1)
    }
  }
}
