import EAMFormat
import EAMIngest

/// Lowers a Swin description to sections (FORMAT.md, "Weights: names and lowering"): linear
/// weights panel-packed (the patch-merging `reduction` with a zero bias), norms row-major, and
/// each block's relative position bias gathered at compile time into a dense `[heads, w², w²]`.
enum SwinLowering {
  static func sections(for model: ModelDescription, linear layer: (LinearSections) -> Void,
                       norm: (NormSections) -> Void, plain: (String, Tensor) -> Void)
  {
    let w = model.weights
    let a = model.architecture
    layer(SwinSections.patchEmbed)
    if a.patchNorm { norm(SwinSections.patchNorm) }
    var first = 0
    for (s, depth) in a.stageDepths.enumerated() {
      if s > 0 {
        let merge = SwinSections.Merge(stage: s)
        norm(merge.norm)
        layer(merge.reduction)
      }
      for i in 0..<depth {
        let block = model.blocks[first + i]
        let names = SwinSections.Block(stage: s, block: i)
        norm(names.norm1)
        layer(names.qkv)
        // The checkpoint's table (timm's name), gathered into the section the runtime reads.
        plain(names.relativePositionBias,
              denseBias(w["layers.\(s).blocks.\(i).attn.relative_position_bias_table"]!, window: block.windowSize))
        layer(names.proj)
        norm(names.norm2)
        layer(names.fc1)
        layer(names.fc2)
      }
      first += depth
    }
    norm(SwinSections.norm)
    if a.numClasses > 0 { layer(SwinSections.head) }
  }

  /// `bias[h][i][j] = table[index(i, j)][h]` for query `i` and key `j` of a `w × w` window
  /// (row-major positions), with timm's index `(Δy + w − 1)·(2w − 1) + (Δx + w − 1)`,
  /// `Δ = position(i) − position(j)`.
  static func denseBias(_ table: Tensor, window: Int) -> Tensor {
    let heads = table.shape[1], n = window * window, span = 2 * window - 1
    var out = [Float](repeating: 0, count: heads * n * n)
    for i in 0..<n {
      let yi = i / window, xi = i % window
      for j in 0..<n {
        let yj = j / window, xj = j % window
        let index = (yi - yj + window - 1) * span + (xi - xj + window - 1)
        for h in 0..<heads { out[(h * n + i) * n + j] = table.values[index * heads + h] }
      }
    }
    return Tensor(shape: [heads, n, n], values: out)
  }
}
