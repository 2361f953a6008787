/// The names of an artifact's sections: the contract between the compiler's lowering and the
/// runtime's plan, written once (FORMAT.md, "Weights: names and lowering"). Names follow timm.

/// A linear layer: a panel-packed weight `[n][k]` and a bias of `n`; a quantized weight also has
/// its scales (int8, int4) and column sums (int8).
public struct LinearSections: Sendable {
  public let prefix: String
  public init(_ prefix: String) { self.prefix = prefix }
  public var weight: String { prefix + ".weight" }
  public var bias: String { prefix + ".bias" }
  public var weightScale: String { prefix + ".weight_scale" }
  public var weightSums: String { prefix + ".weight_sums" }
}

/// A LayerNorm: gamma and beta.
public struct NormSections: Sendable {
  public let prefix: String
  public init(_ prefix: String) { self.prefix = prefix }
  public var weight: String { prefix + ".weight" }
  public var bias: String { prefix + ".bias" }
}

/// A head's frozen attention map (EAM): the bit mask and the packed codes.
public struct FrozenMapSections: Sendable {
  public let mask: String
  public let values: String
  public init(block: Int, head: Int) {
    let prefix = "blocks.\(block).attn.frozen.\(head)."
    mask = prefix + "mask"
    values = prefix + "values"
  }
}

/// A ViT-family model (ViT, DeiT, distilled DeiT, DINOv2, lambda_vit).
public enum ViTSections {
  public static let patchEmbed = LinearSections("patch_embed.proj")
  public static let classToken = "cls_token"
  public static let distillationToken = "dist_token"
  public static let registerTokens = "reg_token"
  public static let positionEmbedding = "pos_embed"
  /// The final norm before pooling (absent with `fc_norm`).
  public static let norm = NormSections("norm")
  /// The norm after pooling (timm `fc_norm`).
  public static let fcNorm = NormSections("fc_norm")
  public static let head = LinearSections("head")
  public static let headDistillation = LinearSections("head_dist")

  /// The sections of block `index`.
  public struct Block: Sendable {
    public let norm1: NormSections
    public let qkv: LinearSections
    public let proj: LinearSections
    public let norm2: NormSections
    public let fc1: LinearSections
    public let fc2: LinearSections
    /// Compact FFN's factors of fc2: hidden → rank, then rank → width.
    public let fc2Reduce: LinearSections
    public let fc2Expand: LinearSections
    public init(_ index: Int) {
      let p = "blocks.\(index)."
      norm1 = NormSections(p + "norm1")
      qkv = LinearSections(p + "attn.qkv")
      proj = LinearSections(p + "attn.proj")
      norm2 = NormSections(p + "norm2")
      fc1 = LinearSections(p + "mlp.fc1")
      fc2 = LinearSections(p + "mlp.fc2")
      fc2Reduce = LinearSections(p + "mlp.fc2.reduce")
      fc2Expand = LinearSections(p + "mlp.fc2.expand")
    }
  }
}

/// Swin Transformer v1 (timm ≥ 0.9 names).
public enum SwinSections {
  public static let patchEmbed = LinearSections("patch_embed.proj")
  public static let patchNorm = NormSections("patch_embed.norm")
  public static let norm = NormSections("norm")
  public static let head = LinearSections("head.fc")

  /// Patch merging at the start of stage `stage` > 0.
  public struct Merge: Sendable {
    public let norm: NormSections
    public let reduction: LinearSections
    public init(stage: Int) {
      norm = NormSections("layers.\(stage).downsample.norm")
      reduction = LinearSections("layers.\(stage).downsample.reduction")
    }
  }

  /// The sections of block `block` of stage `stage`.
  public struct Block: Sendable {
    public let norm1: NormSections
    public let qkv: LinearSections
    public let proj: LinearSections
    /// f32 `[heads, w², w²]`: the relative position bias gathered at compile time.
    public let relativePositionBias: String
    public let norm2: NormSections
    public let fc1: LinearSections
    public let fc2: LinearSections
    public init(stage: Int, block: Int) {
      let p = "layers.\(stage).blocks.\(block)."
      norm1 = NormSections(p + "norm1")
      qkv = LinearSections(p + "attn.qkv")
      proj = LinearSections(p + "attn.proj")
      relativePositionBias = p + "attn.relative_position_bias"
      norm2 = NormSections(p + "norm2")
      fc1 = LinearSections(p + "mlp.fc1")
      fc2 = LinearSections(p + "mlp.fc2")
    }
  }
}
