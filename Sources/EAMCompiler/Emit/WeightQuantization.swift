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
  static func lower(_ s: LinearSections, _ values: [Float], n: Int, k: Int, type: WeightPrecision, groupSize: Int)
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
                                activation: .dynamic))
      default:
        // One group covers the whole depth either way; the file states the group it uses.
        let group = min(groupSize, k)
        let clipped = clipInt4Groups(values, n: n, k: k, group: group)
        let (codes, scales) = try WeightPacking.packInt4(weight: clipped, n: n, k: k, group: group)
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

  /// Clipping ratios tried per int4 group, largest first.
  static let clipRatios: [Float] = (0...10).map { 1 - Float($0) * 0.05 }

  /// The weight with each int4 group (row n, `group` consecutive k) clipped to `±c·max|W|`, `c`
  /// the ratio of `clipRatios` whose quantization (scale `binary16(c·max / 7)`, codes
  /// `clamp(rint(W / s), −7, 7)`, as the packer computes them from the clipped group) has the
  /// least squared error: rounding finer inside the group is worth more than the few large
  /// values it clips.
  static func clipInt4Groups(_ values: [Float], n: Int, k: Int, group: Int) -> [Float] {
    var out = values
    for r in 0..<n {
      var g0 = r * k
      let end = (r + 1) * k
      while g0 < end {
        let g1 = min(g0 + group, end)
        var top: Float = 0
        for i in g0..<g1 { top = max(top, abs(values[i])) }
        var best: Float = 1, bestError = Float.infinity
        if top > 0 {
          for c in clipRatios {
            let scale = Float(Float16(c * top / 7))
            guard scale > 0, scale.isFinite else { continue }
            var error: Float = 0
            for i in g0..<g1 {
              let q = min(max((values[i] / scale).rounded(.toNearestOrEven), -7), 7)
              let d = values[i] - q * scale
              error += d * d
            }
            if error < bestError { (best, bestError) = (c, error) }
          }
        }
        if best < 1 {
          let limit = best * top
          for i in g0..<g1 { out[i] = min(max(values[i], -limit), limit) }
        }
        g0 = g1
      }
    }
    return out
  }
}
