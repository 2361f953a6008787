import EAMFormat
import EAMIngest

/// Compact FFN's settings.
public struct CompactFFNOptions: Sendable, Equatable {
  /// Rank of fc2's factors as a fraction of the block's width (0 < fraction < 1).
  public var rankFraction: Double
  /// Calibration images the output moments are gathered on (at most).
  public var images = 32

  public init(rankFraction: Double) { self.rankFraction = rankFraction }

  func rank(width d: Int) -> Int { max(1, Int((rankFraction * Double(d)).rounded())) }
}

/// Compact FFN (cFFN, arXiv 2306.10875, applied post-training): every block's fc2 (hidden → d)
/// becomes two factors of rank r, chosen to minimise the error of the MLP's output on calibration
/// tokens rather than the weights' error: with W' = diag(ls2)·W and C the covariance of the MLP
/// output y = W'h + b', U = the r leading eigenvectors of C and P = U·Uᵀ, fc2 becomes
/// `expand(reduce(h))` with reduce = Uᵀ·W' and expand = U, bias μ + P·(b' − μ) (μ the mean output):
/// y ≈ P·(y − μ) + μ, the best rank-r affine approximation on those tokens.
public struct CompactFFN: CompilerPass {
  public var options: CompactFFNOptions
  public init(options: CompactFFNOptions) { self.options = options }

  public var name: String { "compact_ffn" }
  public var needsStatistics: Bool { false }

  public func check(_ model: ModelDescription, source: String) throws(CompileError) {
    guard model.architecture.family != .swin else { throw CompileError("\(source): compact FFN is for ViT-family models") }
    guard options.rankFraction > 0, options.rankFraction < 1 else {
      throw CompileError("--compact-ffn must be a rank fraction between 0 and 1, not \(options.rankFraction)")
    }
    for b in model.blocks where options.rank(width: b.dim) >= min(b.dim, b.mlpHidden) {
      throw CompileError("--compact-ffn \(options.rankFraction): rank \(options.rank(width: b.dim)) is not below block \(b.index)'s width \(b.dim)")
    }
    guard !model.blocks.contains(where: { $0.mlpRank > 0 }) else { throw CompileError("\(source): the MLPs are already factorised") }
  }

  public func apply(_ model: ModelDescription, _ context: inout PassContext) throws(CompileError) -> ModelDescription {
    let images = Array(Calibration.select(context.options.calibrationImages, options: context.options.calibration).prefix(options.images))
    guard !images.isEmpty else { throw CompileError("--compact-ffn fits its factors on calibration images: give --calib") }
    // The model as the passes before this one left it.
    let current = try Evaluation.model(of: model, name: context.source, threads: context.options.threads, source: context.source)
    let batches = try ImageInput.batches(paths: images, preprocessing: current.manifest.preprocessing)
    let moments = try MLPOutputMoments.gather(current, batches: batches)
    let (compact, kept) = CompactFFN.factorise(model, moments: moments, options: options)
    let before = ModelCost(model), after = ModelCost(compact)
    context.record.settings = [
      ("rank_fraction", .number(options.rankFraction)),
      ("ranks", .array(compact.blocks.map { .int($0.mlpRank) })),
      ("output_variance_kept", .array(kept.map { .number($0) })),
      ("flops_saved", .number(before.flops - after.flops)), ("flops_saved_fraction", .number(1 - after.flops / before.flops)),
      ("parameters_saved", .int(before.parameters - after.parameters)), ("images", .int(images.count)),
    ]
    context.record.notes = [
      "Compact FFN: every block's fc2 is factorised to rank \(compact.blocks.first?.mlpRank ?? 0) (\(options.rankFraction) of the width), the factors fitted to the MLP's output on \(images.count) calibration images (its r leading principal directions, the mean kept), not to the weights. The paper trains its compact FFN; post-training, the cost is the fidelity below.",
    ]
    return compact
  }

  /// The pass on given inputs instead of images (`batches`: preprocessed, each `images` images):
  /// for reference tests on fixture tensors.
  public static func compress(_ model: ModelDescription, batches: [(values: [Float], images: Int)], options: CompactFFNOptions)
    throws(CompileError) -> ModelDescription
  {
    let current = try Evaluation.model(of: model, name: "model", threads: 1, source: "model")
    return factorise(model, moments: try MLPOutputMoments.gather(current, batches: batches), options: options).0
  }

  /// `model` with every block's fc2 replaced by its data-aware rank-r factors; also the fraction
  /// of each block's output variance the factors keep.
  static func factorise(_ model: ModelDescription, moments: MLPOutputMoments, options: CompactFFNOptions)
    -> (ModelDescription, [Double])
  {
    var m = model
    var kept: [Double] = []
    for (i, b) in model.blocks.enumerated() {
      let d = b.dim, hidden = b.mlpHidden, r = options.rank(width: d)
      let names = ViTSections.Block(b.index), layerScale = "blocks.\(b.index).ls2.gamma"
      let w = model.weights[names.fc2.weight]!.values
      let bias = model.weights[names.fc2.bias]?.values ?? [Float](repeating: 0, count: d)
      let gamma = model.weights[layerScale]?.values ?? [Float](repeating: 1, count: d)
      let (mean, covariance) = moments.meanAndCovariance(i)
      let eigen = SymmetricEigen(covariance, n: d)
      let top = eigen.largest(r)
      let total = eigen.values.reduce(0) { $0 + max($1, 0) }
      kept.append(total > 0 ? top.reduce(0) { $0 + max(eigen.values[$1], 0) } / total : 1)
      // U: d × r; reduce = Uᵀ·W' (r × hidden); expand = U; bias = μ + U·Uᵀ·(b' − μ).
      var reduce = [Float](repeating: 0, count: r * hidden)
      for (k, e) in top.enumerated() {
        var row = [Double](repeating: 0, count: hidden)
        for o in 0..<d {
          let u = eigen.vectors[o * d + e] * Double(gamma[o])
          if u == 0 { continue }
          for c in 0..<hidden { row[c] += u * Double(w[o * hidden + c]) }
        }
        for c in 0..<hidden { reduce[k * hidden + c] = Float(row[c]) }
      }
      var expand = [Float](repeating: 0, count: d * r)
      for o in 0..<d { for (k, e) in top.enumerated() { expand[o * r + k] = Float(eigen.vectors[o * d + e]) } }
      let centred = (0..<d).map { Double(gamma[$0]) * Double(bias[$0]) - mean[$0] }
      let projected = top.map { e in (0..<d).reduce(0.0) { $0 + eigen.vectors[$1 * d + e] * centred[$1] } }
      let newBias = (0..<d).map { o in
        Float(mean[o] + zip(top, projected).reduce(0.0) { $0 + eigen.vectors[o * d + $1.0] * $1.1 })
      }
      for name in [names.fc2.weight, names.fc2.bias, layerScale] { m.weights[name] = nil }
      m.weights[names.fc2Reduce.weight] = Tensor(shape: [r, hidden], values: reduce)
      m.weights[names.fc2Reduce.bias] = Tensor(shape: [r], values: [Float](repeating: 0, count: r))
      m.weights[names.fc2Expand.weight] = Tensor(shape: [d, r], values: expand)
      m.weights[names.fc2Expand.bias] = Tensor(shape: [d], values: newBias)
      m.blocks[i].mlpRank = r
    }
    return (m, kept)
  }
}
