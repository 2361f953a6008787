import EAMFormat
import EAMIngest

/// Numeric type of the stored weights.
public enum WeightPrecision: String, Sendable, CaseIterable {
  case f32, f16
}

/// Turns a model description into the sections the runtime reads: linear weights panel-packed,
/// the patch embedding as a linear layer, layer scale folded into the projections (FORMAT.md).
enum Lowering {
  static func sections(for model: ModelDescription, precision: WeightPrecision) -> (sections: [SectionPayload], weights: [Manifest.Weight]) {
    var out: [SectionPayload] = []
    var types: [Manifest.Weight] = []
    let w = model.weights
    let a = model.architecture

    func plain(_ name: String, _ t: Tensor) {
      out.append(SectionPayload(name: name, shape: t.shape, floats: t.values))
      types.append(.init(name: name, type: .f32))
    }
    func linear(_ name: String, _ values: [Float], n: Int, k: Int) {
      switch precision {
      case .f32:
        let packed = PanelPacking.pack(values, n: n, k: k)
        out.append(SectionPayload(name: name, dtype: .f32, shape: [n, k], layout: .panelPacked,
                                  bytes: packed.withUnsafeBytes { Array($0) }))
        types.append(.init(name: name, type: .f32))
      case .f16:
        let packed = PanelPacking.pack(values.map { Float16($0) }, n: n, k: k)
        out.append(SectionPayload(name: name, dtype: .f16, shape: [n, k], layout: .panelPacked,
                                  bytes: packed.withUnsafeBytes { Array($0) }))
        types.append(.init(name: name, type: .f16))
      }
    }
    func linearLayer(_ prefix: String, scale: [Float]? = nil, keepRows: [Int]? = nil) {
      let weight = w[prefix + ".weight"]!
      var n = weight.shape[0]
      let k = weight.count / n
      var values = weight.values
      var bias = w[prefix + ".bias"]?.values ?? [Float](repeating: 0, count: n)
      if let keepRows {
        values = keepRows.flatMap { values[($0 * k)..<(($0 + 1) * k)] }
        bias = keepRows.map { bias[$0] }
        n = keepRows.count
      }
      if let scale {
        for r in 0..<n {
          for c in 0..<k { values[r * k + c] *= scale[r] }
          bias[r] *= scale[r]
        }
      }
      linear(prefix + ".weight", values, n: n, k: k)
      plain(prefix + ".bias", Tensor(shape: [n], values: bias))
    }

    if a.family == .swin {
      SwinLowering.sections(for: model, linear: { linear($0, $1, n: $2, k: $3) }, plain: plain)
      return (out, types)
    }

    let patch = w["patch_embed.proj.weight"]!
    linear("patch_embed.proj.weight", patch.values, n: a.embedDim, k: patch.count / a.embedDim)
    plain("patch_embed.proj.bias", w["patch_embed.proj.bias"] ?? Tensor(shape: [a.embedDim], values: .init(repeating: 0, count: a.embedDim)))
    for name in ["cls_token", "dist_token", "reg_token", "pos_embed"] {
      if let t = w[name] { plain(name, t) }
    }
    for block in model.blocks {
      let b = "blocks.\(block.index)."
      if !block.attentionRemoved {
        plain(b + "norm1.weight", w[b + "norm1.weight"]!)
        plain(b + "norm1.bias", w[b + "norm1.bias"]!)
        linearLayer(b + "attn.qkv", keepRows: qkvRows(block))
        linearLayer(b + "attn.proj", scale: w[b + "ls1.gamma"]?.values)
      }
      plain(b + "norm2.weight", w[b + "norm2.weight"]!)
      plain(b + "norm2.bias", w[b + "norm2.bias"]!)
      linearLayer(b + "mlp.fc1")
      linearLayer(b + "mlp.fc2", scale: w[b + "ls2.gamma"]?.values)
    }
    for norm in ["norm", "fc_norm"] where w[norm + ".weight"] != nil {
      plain(norm + ".weight", w[norm + ".weight"]!)
      plain(norm + ".bias", w[norm + ".bias"]!)
    }
    if a.numClasses > 0 {
      linearLayer("head")
      if a.distillationTokens > 0 { linearLayer("head_dist") }
    }
    for f in model.frozenMaps {
      out.append(SectionPayload(name: f.maskSection, dtype: .u8, shape: [(f.mask.count + 7) / 8], compression: .zstd,
                                bytes: f.packedMask))
      out.append(SectionPayload(name: f.valuesSection, dtype: .u8, shape: [(f.codes.count * f.bits + 7) / 8],
                                compression: .zstd, bytes: f.packedCodes))
    }
    return (out, types)
  }

  /// Rows of the qkv weight the runtime needs: all but the Q and K rows of whole-frozen heads
  /// (their attention map is a constant), in q, k, v order.
  static func qkvRows(_ block: Manifest.Block) -> [Int]? {
    let whole = Set(block.frozen.filter(\.wholeHead).map(\.head))
    guard !whole.isEmpty else { return nil }
    let hd = block.dim / block.heads
    var rows: [Int] = []
    for part in 0..<3 {
      for h in 0..<block.heads where part == 2 || !whole.contains(h) {
        rows += (0..<hd).map { part * block.dim + h * hd + $0 }
      }
    }
    return rows
  }
}
