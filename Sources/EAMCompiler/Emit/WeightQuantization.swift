import EAMFormat
import EAMKernels

/// Which linear layers an int8 or int4 compile quantizes, and how (`--weights`, `--group-size`,
/// `--keep-float`). Quantization is an emission step: the model description keeps float weights
/// (the passes and the report's measurements see them), and each linear weight is packed in the
/// stored type as it is lowered (FORMAT.md, "Quantized weights").
public struct WeightQuantization: Equatable, Sendable {
  /// int4: k per binary16 scale.
  public var groupSize = Kernels.int4DefaultGroup
  /// Layers that stay f32 (`keeps(_:)` says how an item matches).
  public var keepFloat = WeightQuantization.defaultKeepFloat
  /// int8: how activations become codes (`--act-quant`).
  public var activation = ActivationQuantization.dynamic
  /// int8 with static activations: each layer's input range, gathered by the compile; layers
  /// without one quantize their input per token.
  public var inputRange: LinearInputRange?

  /// How an int8 layer's input becomes codes.
  public enum ActivationQuantization: String, Sendable, CaseIterable {
    /// Per token at run time (a scale and zero point per row).
    case dynamic
    /// One range per layer from calibration images.
    case `static`
  }

  /// int4: how codes are chosen (`--rounding`).
  public var rounding = Int4Rounding.gptq
  /// int4 with GPTQ: the calibration inputs of each layer, gathered by the compile; layers
  /// without them are rounded to nearest.
  public var inputGram: LinearInputGram?
  /// GPTQ's results so far in this compile.
  var memo: GPTQMemo?

  /// How int4 codes are chosen.
  public enum Int4Rounding: String, Sendable, CaseIterable {
    /// Each group clipped, then rounded to nearest (no data).
    case nearest
    /// GPTQ's error feedback against the layer's calibration inputs (needs calibration images).
    case gptq
  }

  /// The classifier stays float (its error goes straight to the output, and it is one layer).
  /// The patch embedding is quantized: kept float on DINOv2-S/14 it made int8 no closer to the
  /// float model and the artifact 0.8% of f32 larger (docs/QUANTIZATION.md).
  public static let defaultKeepFloat = ["head"]

  public init() {}

  /// Whether the linear layer `prefix` (e.g. `blocks.3.mlp.fc2`) stays float: an item names it
  /// whole (`blocks.3.mlp.fc2`), a leading part of it (`blocks.3`, `patch_embed`, `head`, which
  /// also covers `head.fc` and `head_dist`) or its last parts (`fc2`, `attn.qkv`).
  public func keeps(_ prefix: String) -> Bool {
    keepFloat.contains { item in
      prefix == item || prefix.hasPrefix(item + ".") || prefix.hasSuffix("." + item)
        || (item == "head" && prefix == "head_dist")
    }
  }

  /// The sections and manifest entry of linear weight `values` (`[n][k]` row-major) in `type`
  /// (int8 or int4).
  static func lower(_ s: LinearSections, _ values: [Float], n: Int, k: Int, type: WeightPrecision, groupSize: Int,
                    hessian: [Double]? = nil, inputRange: ClosedRange<Float>? = nil, memo: GPTQMemo? = nil)
    throws(FormatError) -> (sections: [SectionPayload], weight: Manifest.Weight)
  {
    do throws(WeightPackingError) {
      switch type {
      case .int8:
        let (codes, scales, sums) = try WeightPacking.packInt8(weight: values, n: n, k: k)
        return ([SectionPayload(name: s.weight, dtype: .i8, shape: [n, k], layout: .int8Panels,
                                bytes: codes.withUnsafeBytes { Array($0) }),
                 SectionPayload(name: s.weightScale, shape: [scales.count], floats: scales),
                 SectionPayload(name: s.weightSums, dtype: .i32, shape: [sums.count], bytes: sums.withUnsafeBytes { Array($0) })],
                Manifest.Weight(name: s.weight, type: .int8, scaleSection: s.weightScale, sumsSection: s.weightSums,
                                activation: inputRange == nil ? .dynamic : .static,
                                activationMin: inputRange?.lowerBound ?? 0, activationMax: inputRange?.upperBound ?? 0))
      default:
        // One group covers the whole depth either way; the file states the group it uses.
        let group = min(groupSize, k)
        let codes: [UInt8], scales: [UInt16]
        if !values.allSatisfy({ $0.isFinite && Float16(abs($0) / 7).isFinite }) {
          // Not storable: the packer names the first weight that is not.
          _ = try WeightPacking.packInt4(weight: values, n: n, k: k, group: group)
        }
        if let hessian, let rounded = memo?.int4(s.prefix, values, n: n, k: k, group: group, hessian: hessian)
            ?? GPTQ.int4(values, n: n, k: k, group: group, hessian: hessian) {
          (codes, scales) = try WeightPacking.packInt4(weight: rounded.values, n: n, k: k, group: group, scales: rounded.scales)
        } else {
          let nearest = nearestInt4(values, n: n, k: k, group: group)
          (codes, scales) = try WeightPacking.packInt4(weight: values, n: n, k: k, group: group, scales: nearest.scales)
        }
        let panels = (n + Kernels.panel - 1) / Kernels.panel, groups = (k + group - 1) / group
        return ([SectionPayload(name: s.weight, dtype: .u8, shape: [n, k], layout: .int4Panels, bytes: codes),
                 SectionPayload(name: s.weightScale, dtype: .f16, shape: [panels, groups, Kernels.panel],
                                bytes: scales.withUnsafeBytes { Array($0) })],
                Manifest.Weight(name: s.weight, type: .int4, scaleSection: s.weightScale, groupSize: group))
      }
    } catch {
      throw FormatError(.invalid, "\(s.weight): \(error.description)")
    }
  }

  /// The binary16 scale of one int4 group: `binary16(c·max|W| / 7)` with the ratio `c` of
  /// `clipRatios` whose quantization (codes `clamp(rint(W / s), −7, 7)`) has the least squared
  /// error (0 for a zero group): rounding finer inside the group is worth more than the few large
  /// values it clips.
  static func int4Scale(_ group: UnsafeBufferPointer<Double>) -> Float16 {
    var top = 0.0
    for v in group { top = max(top, abs(v)) }
    var best: Float16 = 0, bestError = Double.infinity
    for c in clipRatios {
      let scale = Float16(Double(c) * top / 7)
      let s = Double(Float(scale))
      guard s > 0, s.isFinite else { continue }
      var error = 0.0
      for v in group {
        let d = v - min(max((v / s).rounded(.toNearestOrEven), -7), 7) * s
        error += d * d
      }
      if error < bestError { (best, bestError) = (scale, error) }
    }
    return best
  }

  /// Clipping ratios tried per int4 group, largest first.
  static let clipRatios: [Float] = (0...10).map { 1 - Float($0) * 0.05 }

  /// Round-to-nearest int4 with each group's scale from the clipping search (`int4Scale`):
  /// the weight (`[n][k]`) and the binary16 scales (`[n][groups]`) for `packInt4(scales:)`.
  static func nearestInt4(_ values: [Float], n: Int, k: Int, group: Int) -> (values: [Float], scales: [UInt16]) {
    let groups = (k + group - 1) / group
    var scales = [UInt16](repeating: 0, count: n * groups)
    var g = [Double](repeating: 0, count: group)
    for r in 0..<n {
      for j in 0..<groups {
        let k0 = r * k + j * group, count = min(group, k - j * group)
        for i in 0..<count { g[i] = Double(values[k0 + i]) }
        scales[r * groups + j] = g.withUnsafeBufferPointer { int4Scale(UnsafeBufferPointer(rebasing: $0[0..<count])) }.bitPattern
      }
    }
    return (values, scales)
  }
}
