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

  /// The patch embedding (its inputs are raw pixels) and the classifier (its error goes straight
  /// to the output) stay float; see docs/QUANTIZATION.md for what they cost and save.
  public static let defaultKeepFloat = ["patch_embed", "head"]

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
        let (codes, scales) = try WeightPacking.packInt4(weight: values, n: n, k: k, group: group)
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
}
