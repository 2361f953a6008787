import EAMRuntime

/// What removing one block's attention alone costs: the output cosine to the float model on a set
/// of images, per candidate block (for `--remove-attention auto:K` and `eamc analyze`).
enum RemovalCost {
  struct Candidate: Sendable {
    var block: Int
    var fidelity: Fidelity
  }

  /// Every block that still has attention, cheapest removal first (highest mean cosine; ties by
  /// worst image, then block index, so the order is reproducible).
  /// `referenceOutputs`: `reference`'s outputs on `images`, when the caller has them already.
  static func rank(_ model: ModelDescription, mode: AttentionRemovalOptions.Mode, images: [String], reference: Model,
                   referenceOutputs: [Float]? = nil, threads: Int?, source: String) throws(CompileError) -> [Candidate]
  {
    let blocks = model.blocks.filter { !$0.attentionRemoved }.map(\.index)
    let progress = Progress("ranking blocks for attention removal (\(mode.rawValue))", total: blocks.count * images.count, unit: "image runs")
    let ref: [Float]
    if let referenceOutputs { ref = referenceOutputs } else { ref = try Evaluation.outputs(reference, images: images) }
    var out: [Candidate] = []
    for b in blocks {
      let removed = AttentionRemoval.remove([b], from: model, mode: mode)
      let m = try Evaluation.model(of: removed, name: source, threads: threads, source: source)
      let y = try Evaluation.outputs(m, images: images)
      progress.advance(images.count)
      out.append(Candidate(block: b, fidelity: Fidelity.compare(y, reference: ref, width: reference.outputWidth,
                                                                classifier: model.architecture.numClasses > 0)))
    }
    progress.finish()
    return out.sorted {
      ($0.fidelity.meanCosine, $0.fidelity.minCosine, -$0.block) > ($1.fidelity.meanCosine, $1.fidelity.minCosine, -$1.block)
    }
  }
}
