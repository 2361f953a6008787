import EAMFormat
import EAMIngest
import EAMRuntime

/// Hallucinated heads' settings.
public struct HallucinationOptions: Sendable, Equatable {
  /// Fraction of each layer's heads whose maps are made from the others' (rounded; fewer than all).
  public var fraction: Double
  /// Calibration images the maps' least-squares fits use (at most).
  public var images = 16

  public init(fraction: Double) { self.fraction = fraction }

  func count(heads: Int) -> Int { min(heads - 1, Int((fraction * Double(heads)).rounded())) }
}

/// Hallucinated heads (hMHSA, arXiv 2306.10875, applied post-training): in every layer, the
/// heads whose attention maps the layer's other heads explain best (R² of a least-squares fit with
/// intercept on calibration maps) stop computing Q·Kᵀ: their map is the fitted combination of the
/// computed heads' maps, clamped at 0 and renormalised per row. Their Q and K weights leave the
/// artifact; V and the projection stay.
public struct HallucinatedHeads: CompilerPass {
  public var options: HallucinationOptions
  public init(options: HallucinationOptions) { self.options = options }

  public var name: String { "hallucinated_heads" }
  public var needsStatistics: Bool { false }

  public func check(_ model: ModelDescription, source: String) throws(CompileError) {
    guard model.architecture.family != .swin else { throw CompileError("\(source): hallucinated heads are for ViT-family models") }
    guard options.fraction > 0, options.fraction < 1 else {
      throw CompileError("--hallucinate-heads must be a fraction between 0 and 1, not \(options.fraction)")
    }
    guard model.blocks.contains(where: { !$0.attentionRemoved && options.count(heads: $0.heads) > 0 }) else {
      throw CompileError("--hallucinate-heads \(options.fraction) rounds to no head in any block (\(model.blocks.first?.heads ?? 0) heads each)")
    }
  }

  public func apply(_ model: ModelDescription, _ context: inout PassContext) throws(CompileError) -> ModelDescription {
    let images = Array(Calibration.select(context.options.calibrationImages, options: context.options.calibration).prefix(options.images))
    guard !images.isEmpty else { throw CompileError("--hallucinate-heads fits its maps on calibration images: give --calib") }
    let current = try Evaluation.model(of: model, name: context.source, threads: context.options.threads, source: context.source)
    var batches: [(values: [Float], images: Int)] = []
    for image in images { batches.append((try ImageInput.batch(paths: [image], preprocessing: current.manifest.preprocessing), 1)) }
    let grams = try HallucinatedHeads.gather(current, batches: batches)
    let result = HallucinatedHeads.choose(model, grams: grams, options: options)
    let before = ModelCost(model), after = ModelCost(result)
    context.record.settings = [
      ("fraction", .number(options.fraction)),
      ("heads", .array(result.blocks.map { b in .array(b.hallucinated.map { .int($0.head) }) })),
      ("explained", .array(result.blocks.map { b in
        .array(b.hallucinated.map { h in .number(grams[b.index]?.explained(h.head, from: h.sources) ?? 0) })
      })),
      ("flops_saved", .number(before.flops - after.flops)), ("flops_saved_fraction", .number(1 - after.flops / before.flops)),
      ("parameters_saved", .int(before.parameters - after.parameters)), ("images", .int(images.count)),
    ]
    context.record.notes = [
      "Hallucinated heads: in every layer the \(options.fraction) of heads whose maps the others explain best (R², least squares with intercept on \(images.count) calibration images) compute no Q·Kᵀ; their map is max(0, intercept + Σ w·map) of the computed heads, rows renormalised. The paper trains this; post-training, the cost is the fidelity below.",
    ]
    return result
  }

  /// The pass on given inputs (each batch one image): for reference tests on fixture tensors.
  public static func compress(_ model: ModelDescription, batches: [(values: [Float], images: Int)], options: HallucinationOptions)
    throws(CompileError) -> ModelDescription
  {
    let current = try Evaluation.model(of: model, name: "model", threads: 1, source: "model")
    return choose(model, grams: try gather(current, batches: batches), options: options)
  }

  /// Per block (nil without attention), the sums of its heads' maps over the batches' images.
  static func gather(_ model: Model, batches: [(values: [Float], images: Int)]) throws(CompileError) -> [HeadMapGram?] {
    final class Store: @unchecked Sendable {
      var grams: [HeadMapGram?]
      let maps: UnsafeMutablePointer<Float>
      let entries: Int
      init(_ m: Manifest, tokens: Int) {
        grams = m.blocks.map { $0.attentionRemoved ? nil : HeadMapGram(heads: $0.heads) }
        entries = tokens * tokens
        maps = .allocate(capacity: max(1, (m.blocks.map(\.heads).max() ?? 1) * entries))
      }
      deinit { maps.deallocate() }
    }
    let a = model.manifest.architecture
    let tokens = a.prefixTokens + a.patchTokens
    let store = Store(model.manifest, tokens: tokens)
    // One image per run: each head's map comes from one thread into its own slot, and the layer's
    // maps are complete when the stream reaches its MLP half.
    model.attentionObserver = { _, _, head, map, t, _, _ in
      guard t == tokens else { return }
      (store.maps + head * t * t).update(from: map, count: t * t)
    }
    model.sublayerObserver = { block, beforeMLP, _, _, _ in
      guard beforeMLP, store.grams[block] != nil else { return }
      store.grams[block]!.add(store.maps, entries: store.entries)
    }
    defer {
      model.attentionObserver = nil
      model.sublayerObserver = nil
    }
    for batch in batches {
      precondition(batch.images == 1, "one image per batch")
      do throws(RuntimeError) { _ = try model.run(batch.values, batch: 1) } catch { throw CompileError(error.description) }
    }
    return store.grams
  }

  /// In every block, the heads the others explain best become hallucinated, fitted from the rest.
  static func choose(_ model: ModelDescription, grams: [HeadMapGram?], options: HallucinationOptions) -> ModelDescription {
    var m = model
    for (i, b) in model.blocks.enumerated() {
      guard let gram = grams[b.index], !b.attentionRemoved else { continue }
      let k = options.count(heads: b.heads)
      guard k > 0 else { continue }
      let whole = Set(b.frozen.filter(\.wholeHead).map(\.head))
      let candidates = (0..<b.heads).filter { !whole.contains($0) }
      // R² rounded to 1e-9 so that mathematically equal values (two heads explain each other
      // equally well) tie exactly and the lower index wins.
      let r2 = candidates.map { h in (h, (gram.explained(h, from: candidates.filter { $0 != h }) * 1e9).rounded()) }
      let chosen = Set(r2.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k).map(\.0))
      let sources = candidates.filter { !chosen.contains($0) }
      guard !sources.isEmpty else { continue }
      m.blocks[i].hallucinated = chosen.sorted().map { h in
        let f = gram.fit(h, from: sources)
        var out = Manifest.HallucinatedHead()
        out.head = h
        out.sources = sources
        out.weights = f.weights.map { Float($0) }
        out.intercept = Float(f.intercept)
        return out
      }
      // A hallucinated head has no frozen entries of its own.
      m.blocks[i].frozen.removeAll { chosen.contains($0.head) }
      m.frozenMaps.removeAll { $0.block == b.index && chosen.contains($0.head) }
    }
    return m
  }
}
