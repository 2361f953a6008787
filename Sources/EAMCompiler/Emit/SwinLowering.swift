import EAMFormat
import EAMIngest

/// Lowers a Swin description to sections (FORMAT.md, "Weights: names and lowering"): linear
/// weights panel-packed (the patch-merging `reduction` with a zero bias), norms row-major, and
/// each block's relative position bias gathered at compile time into a dense `[heads, w², w²]`.
enum SwinLowering {
  static func sections(for model: ModelDescription, linear: (String, [Float], Int, Int) -> Void,
                       plain: (String, Tensor) -> Void)
  {
    let w = model.weights
    let a = model.architecture
    func layer(_ prefix: String) {
      let weight = w[prefix + ".weight"]!
      let n = weight.shape[0], k = weight.count / n
      linear(prefix + ".weight", weight.values, n, k)
      plain(prefix + ".bias", w[prefix + ".bias"] ?? Tensor(shape: [n], values: .init(repeating: 0, count: n)))
    }
    func norm(_ prefix: String) {
      plain(prefix + ".weight", w[prefix + ".weight"]!)
      plain(prefix + ".bias", w[prefix + ".bias"]!)
    }

    layer("patch_embed.proj")
    if a.patchNorm { norm("patch_embed.norm") }
    var first = 0
    for (s, depth) in a.stageDepths.enumerated() {
      if s > 0 {
        norm("layers.\(s).downsample.norm")
        layer("layers.\(s).downsample.reduction")
      }
      for i in 0..<depth {
        let block = model.blocks[first + i]
        let b = "layers.\(s).blocks.\(i)."
        norm(b + "norm1")
        layer(b + "attn.qkv")
        plain(b + "attn.relative_position_bias",
              denseBias(w[b + "attn.relative_position_bias_table"]!, window: block.windowSize))
        layer(b + "attn.proj")
        norm(b + "norm2")
        layer(b + "mlp.fc1")
        layer(b + "mlp.fc2")
      }
      first += depth
    }
    norm("norm")
    if a.numClasses > 0 { layer("head.fc") }
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
