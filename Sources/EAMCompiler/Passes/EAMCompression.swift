/// EAM as a pass of the pipeline: chooses the entropy resolution (given, or `auto` on
/// calibration images), reads the per-entry statistics at it, freezes entries with `EAMPass`,
/// records its settings and method, and asks for the selection controls.
public struct EAMCompression: CompilerPass {
  public var options: EAMOptions
  public init(options: EAMOptions) { self.options = options }

  public var name: String { "eam" }
  public var needsStatistics: Bool { true }

  public func check(_ model: ModelDescription, source: String) throws(CompileError) {
    guard (0...1).contains(options.sparsity) else { throw CompileError("--sparsity must be between 0 and 1, not \(options.sparsity)") }
    guard (1...8).contains(options.bits) else { throw CompileError("--attn-bits must be 1 to 8, not \(options.bits)") }
    // Swin's maps are 16 to 49 tokens a side (w²): a 64-query tile of the fused kernel is larger.
    if model.architecture.family == .swin, let shape = options.granularity.shape {
      throw CompileError("\(source): --granularity \(options.granularity.rawValue) freezes \(shape.queries)×\(shape.keys) tiles of the fused attention kernel, which Swin's window attention (w² tokens a window) does not run; use --granularity entry")
    }
  }

  public func apply(_ model: ModelDescription, _ context: inout PassContext) throws(CompileError) -> ModelDescription {
    guard let statistics = context.statistics else { throw CompileError("the \(name) pass ran without calibration statistics") }
    let recognised = context.recognised
    // Per-entry statistics at a resolution, for the blocks that still have attention, with the
    // measured output sensitivities when the criterion uses them.
    var sensitivity: [[[Float]?]?] = []
    func perHead(_ resolution: Float) -> [[HeadEntryStatistics]?] {
      var s = Calibration.result(statistics, model: recognised, entropyResolution: resolution).perHead
      for b in s.indices {
        if model.blocks.indices.contains(b) && model.blocks[b].attentionRemoved { s[b] = nil; continue }
        guard sensitivity.indices.contains(b), let heads = sensitivity[b], s[b] != nil else { continue }
        for h in heads.indices where s[b]!.indices.contains(h) { s[b]![h].sensitivity = heads[h] }
      }
      return s
    }
    var options = self.options
    let images = Calibration.select(context.options.calibrationImages, options: context.options.calibration)
    var sensitivityImages = 0
    var fallback: String?  // why the paper's criterion replaced the weighted one
    if options.criterion == .weightedEntropy && options.sparsity > 0 {
      if model.architecture.family == .swin {
        // OutputSensitivity measures whole-image maps and the ViT family's projections.
        options.criterion = .entropy
        fallback = "output sensitivity is measured for the ViT family's whole-image maps, not Swin's windows"
      } else if images.isEmpty {
        options.criterion = .entropy  // nothing to measure the output on: the paper's criterion
        fallback = "no calibration images to measure output sensitivity on"
      } else {
        let measured = try OutputSensitivity.measure(perHead(options.entropyResolution ?? EAMOptions.defaultEntropyResolution),
                                                     model: model, options: options, context: context, images: images)
        sensitivity = measured.statistics.map { $0?.map(\.sensitivity) }
        sensitivityImages = images.count
      }
    }
    let effective = options
    let choice = try EntropyResolution.choose(effective, context: context) { r in
      EAMPass.apply(model, statistics: perHead(r), options: effective)
    }
    var chosen = options
    chosen.entropyResolution = choice.resolution
    let entries = perHead(choice.resolution)
    let compressed = EAMPass.apply(model, statistics: entries, options: chosen)
    context.record.settings = [
      ("sparsity", .number(options.sparsity)), ("attn_bits", .int(options.bits)),
      ("allocation", .string(options.allocation.rawValue)), ("criterion", .string(options.criterion.rawValue)),
      ("frozen_value", .string(options.frozenValue.rawValue)), ("entropy_resolution", .number(Double(choice.resolution))),
      ("sensitivity_images", .int(sensitivityImages)),
    ] + (options.granularity == .entry ? [] : [("granularity", .string(options.granularity.rawValue))])
    context.record.notes = notes(choice, criterion: options.criterion, fallback: fallback, sensitivityImages: sensitivityImages)
      + (model.architecture.family == .swin ? [Self.swinNote] : [])
    context.controls += Control.selection(chosen, model: model, statistics: entries)
    return compressed
  }

  /// The method as this compile applied it, a sentence or two per choice.
  func notes(_ choice: EntropyResolution.Choice, criterion: SelectionCriterion, fallback: String?, sensitivityImages: Int) -> [String] {
    let selection: String
    switch criterion {
    case .weightedEntropy: selection = "Selection: entries ranked by the Shannon entropy of their histogram across calibration images at an absolute resolution (half-octave bins below it merged) times the fourth root of their output sensitivity, std × its square root breaking ties. Sensitivity, measured on \(sensitivityImages) calibration images: E‖γ·W_o,h(v_j − ō_i)‖² (what a unit change of the entry moves its block's output by) times how much of a change in the block's class-token or patch rows reaches the model's output (1 − cosine with 30% of those rows' entries frozen, over the predicted change)"
    case .entropy: selection = (fallback.map { "Selection (\($0), so the paper's criterion): " } ?? "Selection (the paper's criterion): ") + "entries ranked by the Shannon entropy of their histogram across calibration images at an absolute resolution (half-octave bins below it merged), standard deviation breaking ties"
    case .std: selection = "Selection (a control): entries ranked by their standard deviation across calibration images, histogram entropy breaking ties"
    case .random: selection = "Selection (a control): entries ranked uniformly at random (seeded)"
    }
    let budget: String
    switch options.allocation {
    case .global: budget = "of all entries of the model"
    case .perLayer: budget = "of every layer"
    case .perHead: budget = "of every head"
    }
    let controls: String
    switch criterion {
    case .weightedEntropy: controls = "Controls at the same sparsity, frozen values and bits: plain entropy, lowest standard deviation, and uniformly random."
    case .entropy: controls = "Controls at the same sparsity, frozen values and bits: lowest standard deviation, and uniformly random."
    case .std: controls = "Control at the same sparsity, frozen values and bits: uniformly random."
    case .random: controls = "Control at the same sparsity, frozen values and bits: lowest standard deviation."
    }
    let value: String
    switch options.frozenValue {
    case .median: value = "Frozen value: the entry's median (read off its histogram) over the calibration images, quantised to attn-bits with one scale per head, the scale with the least squared code error."
    case .mean: value = "Frozen value: the entry's mean (from exact fixed-point sums) over the calibration images, quantised to attn-bits with one scale per head, the scale with the least squared code error."
    case .zero: value = "Frozen value: 0 (the frozen entry's key is dropped for its query; its probability goes to the free entries)."
    }
    let resolution = "Entropy resolution: 1/\(Int((1 / choice.resolution).rounded()))" + (choice.tried.isEmpty ? "." :
      " (chosen on \(choice.images) calibration images; mean cosine " +
      choice.tried.map { "1/\(Int((1 / $0.0).rounded())): \(String(format: "%.5f", $0.1))" }.joined(separator: ", ") + ").")
    let unit: String
    switch options.granularity {
    case .entry: unit = ""
    case .tile: unit = " Granularity: whole tiles of \(EAMPass.tileQueries) queries × \(EAMPass.tileKeys) keys (the fused attention kernel's units of work), each ranked by the mean of its entries' keys, taken in rank order while they fit in the budget."
    case .column: unit = " Granularity: one key's entries for \(EAMPass.tileQueries) queries at a time (a column of the fused attention kernel's query tile), each ranked by the mean of its entries' keys, taken in rank order while they fit in the budget."
    }
    return [
      selection + "; the lowest fraction (sparsity) " + budget + " is frozen." + unit + " " + controls,
      value + " Run time: frozen entries keep their value; free entries share the probability mass left (softmax over the free positions × (1 − Σ frozen)).",
      resolution,
    ]
  }
}

extension EAMCompression {
  /// What a frozen map of a Swin block is (schemas/FORMAT.md, "Frozen attention maps").
  static let swinNote = "Swin: one frozen map per (block, head) over the w²×w² window-relative positions, its statistics pooled over every window and image (shifted blocks' boundary windows included), applied to every window of the head; the free entries' scores get the relative position bias and the shift mask as before."
}

extension CompileReport {
  /// The EAM pass's settings as its record holds them (0 or empty when it did not run).
  public var sparsity: Double { if case .number(let v)? = pass("eam")?.setting("sparsity") { v } else { 0 } }
  public var bits: Int { if case .int(let v)? = pass("eam")?.setting("attn_bits") { v } else { 0 } }
  public var allocation: String { eamString("allocation") }
  public var criterion: String { eamString("criterion") }
  public var frozenValue: String { eamString("frozen_value") }
  public var entropyResolution: Float {
    if case .number(let v)? = pass("eam")?.setting("entropy_resolution") { Float(v) } else { 0 }
  }

  private func eamString(_ key: String) -> String {
    if case .string(let v)? = pass("eam")?.setting(key) { v } else { "" }
  }
}
