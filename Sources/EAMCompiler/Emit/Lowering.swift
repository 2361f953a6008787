import EAMFormat
import EAMIngest
import EAMKernels

/// Numeric type of the stored weights.
public enum WeightPrecision: String, Sendable, CaseIterable {
  case f32, f16, int8, int4

  /// int8 or int4 (`WeightQuantization`).
  public var isInteger: Bool { self == .int8 || self == .int4 }
}

/// Turns a model description into the sections the runtime reads: linear weights panel-packed,
/// the patch embedding as a linear layer, layer scale folded into the projections (FORMAT.md).
enum Lowering {
  static func sections(for model: ModelDescription, precision: WeightPrecision,
                       quantization: WeightQuantization = WeightQuantization())
    throws(FormatError) -> (sections: [SectionPayload], weights: [Manifest.Weight])
  {
    var out: [SectionPayload] = []
    var failure: FormatError?
    var types: [Manifest.Weight] = []
    let w = model.weights
    let a = model.architecture

    func plain(_ name: String, _ t: Tensor) {
      out.append(SectionPayload(name: name, shape: t.shape, floats: t.values))
      types.append(.init(name: name, type: .f32))
    }
    func linear(_ s: LinearSections, _ values: [Float], n: Int, k: Int) {
      let name = s.weight
      // Integer kernels accumulate exactly up to int8MaxK deep; deeper layers stay float.
      if precision.isInteger, !quantization.keeps(s.prefix), k <= Kernels.int8MaxK {
        do throws(FormatError) {
          let hessian = precision == .int4 && quantization.rounding == .gptq
            ? quantization.inputGram?.hessian(s.prefix, k: k) : nil
          let range = precision == .int8 && quantization.activation == .static ? quantization.inputRange?.ranges[s.prefix] : nil
          let lowered = try WeightQuantization.lower(s, values, n: n, k: k, type: precision,
                                                     groupSize: quantization.groupSize, hessian: hessian, inputRange: range,
                                                     memo: quantization.memo)
          out += lowered.sections
          types.append(lowered.weight)
        } catch {
          failure = failure ?? error
        }
        return
      }
      switch precision {
      case .f32, .int8, .int4:
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
    func linearLayer(_ s: LinearSections, scale: [Float]? = nil, keepRows: [Int]? = nil) {
      let weight = w[s.weight]!
      var n = weight.shape[0]
      let k = weight.count / n
      var values = weight.values
      var bias = w[s.bias]?.values ?? [Float](repeating: 0, count: n)
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
      linear(s, values, n: n, k: k)
      plain(s.bias, Tensor(shape: [n], values: bias))
    }
    func norm(_ s: NormSections) {
      plain(s.weight, w[s.weight]!)
      plain(s.bias, w[s.bias]!)
    }

    if a.family == .swin {
      SwinLowering.sections(for: model, linear: { linearLayer($0) }, norm: norm, plain: plain)
      out += frozenSections(model)
      if let failure { throw failure }
      return (out, types)
    }

    linearLayer(ViTSections.patchEmbed)
    for name in [ViTSections.classToken, ViTSections.distillationToken, ViTSections.registerTokens,
                 ViTSections.positionEmbedding] {
      if let t = w[name] { plain(name, t) }
    }
    for block in model.blocks {
      let names = ViTSections.Block(block.index)
      let b = "blocks.\(block.index)."  // checkpoint names of the layer scales, folded below
      if !block.attentionRemoved {
        norm(names.norm1)
        let layout = QKVLayout(block)
        linearLayer(names.qkv, keepRows: layout.keepsAllRows ? nil : layout.rows)
        linearLayer(names.proj, scale: w[b + "ls1.gamma"]?.values)
      }
      norm(names.norm2)
      linearLayer(names.fc1)
      if block.mlpRank > 0 {
        // Compact FFN's factors; the layer scale is already in them.
        linearLayer(names.fc2Reduce)
        linearLayer(names.fc2Expand)
      } else {
        linearLayer(names.fc2, scale: w[b + "ls2.gamma"]?.values)
      }
    }
    for n in [ViTSections.norm, ViTSections.fcNorm] where w[n.weight] != nil { norm(n) }
    if a.numClasses > 0 {
      linearLayer(ViTSections.head)
      if a.distillationTokens > 0 { linearLayer(ViTSections.headDistillation) }
    }
    out += frozenSections(model)
    if let failure { throw failure }
    return (out, types)
  }

  /// Each frozen map's bit mask and packed codes (any family: a Swin map is w²×w²).
  static func frozenSections(_ model: ModelDescription) -> [SectionPayload] {
    model.frozenMaps.flatMap { f in
      [SectionPayload(name: f.maskSection, dtype: .u8, shape: [(f.mask.count + 7) / 8], compression: .zstd,
                      bytes: f.packedMask),
       SectionPayload(name: f.valuesSection, dtype: .u8, shape: [(f.codes.count * f.bits + 7) / 8],
                      compression: .zstd, bytes: f.packedCodes)]
    }
  }
}
