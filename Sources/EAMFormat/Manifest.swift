/// The manifest of an artifact: a Swift mirror of `eam.v1.Manifest` (schemas/eam.proto).
public struct Manifest: Equatable, Sendable {
  public var producer = Producer()
  public var architecture = Architecture()
  public var preprocessing = Preprocessing()
  public var blocks: [Block] = []
  public var weights: [Weight] = []
  public var compile = CompileSettings()
  public var calibration = Calibration()
  public var entropy: [EntropyTable] = []

  public init() {}

  /// The oldest minor version of format 1 that can express this manifest: 2 when a weight is
  /// int8 or int4 or a block has a compact FFN or hallucinated heads (added in 1.2), 1 when a block states its residual rule (field added in
  /// 1.1), else 0. Writers put it in the header, so that
  /// artifacts that use nothing new stay byte-identical to what 1.0 writers produced.
  public var requiredMinor: UInt16 {
    if weights.contains(where: { $0.type == .int8 && $0.activation == .static }) { return 3 }
    if weights.contains(where: { $0.type == .int8 || $0.type == .int4 }) { return 2 }
    if blocks.contains(where: { $0.mlpRank > 0 || !$0.hallucinated.isEmpty }) { return 2 }
    return blocks.contains { $0.residual != .unspecified } ? 1 : 0
  }

  /// Header flags a reader must understand: `Header.flagResidualRules` when a block skips its
  /// attention (`identity`), which a 1.0 reader would read as lambda_vit's `x = 2x`.
  public var requiredFlags: UInt32 {
    blocks.contains { $0.residual == .identity } ? Header.flagResidualRules : 0
  }

  public struct Producer: Equatable, Sendable {
    public var name = ""
    public var version = ""
    public init(name: String = "", version: String = "") {
      self.name = name
      self.version = version
    }
  }

  public enum Family: UInt32, Sendable {
    case unspecified = 0, vit = 1, deit = 2, deitDistilled = 3, dinov2 = 4, swin = 5

    public var name: String {
      switch self {
      case .unspecified: "unspecified"
      case .vit: "vit"
      case .deit: "deit"
      case .deitDistilled: "deit-distilled"
      case .dinov2: "dinov2"
      case .swin: "swin"
      }
    }
  }

  public enum Pooling: UInt32, Sendable {
    case unspecified = 0, classToken = 1, meanPatch = 2, meanAll = 3
  }

  public enum Interpolation: UInt32, Sendable {
    case unspecified = 0, bicubic = 1, bilinear = 2
  }

  public struct Preprocessing: Equatable, Sendable {
    public var resizeShorterSide: Int = 0
    public var cropSize: Int = 0
    public var mean: [Float] = []
    public var std: [Float] = []
    public var interpolation: Interpolation = .unspecified
    public init() {}
  }

  /// The typed architecture (see the schema for each field's meaning).
  public struct Architecture: Equatable, Sendable {
    public var family: Family = .unspecified
    public var imageSize = 0
    public var patchSize = 0
    public var inChannels = 3
    public var embedDim = 0
    public var depth = 0
    public var mlpHidden = 0
    public var classTokens = 0
    public var distillationTokens = 0
    public var registerTokens = 0
    public var posEmbedCoversPrefix = true
    public var normEps: Float = 1e-6
    public var layerScale = false
    public var numClasses = 0
    public var pooling: Pooling = .classToken
    public var fcNorm = false
    public var qkvBias = true
    public var windowSize = 0
    public var stageDepths: [Int] = []
    public var stageHeads: [Int] = []
    public var patchNorm = false
    public init() {}

    /// Tokens ahead of the patch tokens (class, distillation, registers).
    public var prefixTokens: Int { classTokens + distillationTokens + registerTokens }
    /// Patch tokens per image. Saturates at `Int.max / 4` (far beyond any reader's limit) so that
    /// a hostile image size shows as too large instead of trapping.
    public var patchTokens: Int {
      guard patchSize > 0 else { return 0 }
      let side = imageSize / patchSize
      let (n, overflow) = side.multipliedReportingOverflow(by: side)
      return overflow || n > Int.max / 4 ? Int.max / 4 : n
    }
  }

  /// A head whose map is `max(0, intercept + Σ weights[i]·map(sources[i]))`, rows renormalised.
  public struct HallucinatedHead: Equatable, Sendable {
    public var head = 0
    public var sources: [Int] = []
    public var weights: [Float] = []
    public var intercept: Float = 0
    public init() {}
  }

  public struct FrozenMap: Equatable, Sendable {
    public var head = 0
    public var frozenEntries = 0
    public var bits = 0
    public var scale: Float = 0
    public var maskSection = ""
    public var valuesSection = ""
    public var wholeHead = false
    public init() {}
  }

  /// What a block adds to its residual stream in place of `x + attention(norm1(x))`.
  public enum Residual: UInt32, Sendable {
    /// Not stated (format 1.0): attention, or `double` when `attentionRemoved`.
    case unspecified = 0
    /// `x + proj(attention(norm1(x)))`.
    case attention = 1
    /// lambda_vit's shrunk block: `x = x + x`, then the MLP half (what networks trained with its
    /// schedule expect).
    case double = 2
    /// `x` unchanged, then the MLP half (attention skipped after training).
    case identity = 3
    /// A value this reader does not know.
    case unknown = 0xFFFF_FFFF
  }

  public struct Block: Equatable, Sendable {
    public var index = 0
    public var heads = 0
    public var dim = 0
    public var mlpHidden = 0
    public var attentionRemoved = false
    /// The residual rule; see `effectiveResidual`.
    public var residual: Residual = .unspecified
    /// Compact FFN: fc2 as two factors of this rank (`mlp.fc2.reduce`, `mlp.fc2.expand`); 0: one matrix.
    public var mlpRank = 0
    /// Heads whose maps are made from other heads' maps (no Q, K of their own).
    public var hallucinated: [HallucinatedHead] = []
    public var frozen: [FrozenMap] = []
    public var frozenFraction: Float = 0
    public var stage = 0
    public var windowSize = 0
    public var shiftSize = 0
    public var mergeBefore = false
    public var resolution = 0
    public init() {}

    /// The rule the block follows: `residual`, or format 1.0's reading of `attentionRemoved`.
    public var effectiveResidual: Residual {
      switch residual {
      case .unspecified: attentionRemoved ? .double : .attention
      default: residual
      }
    }
  }

  public enum WeightType: UInt32, Sendable {
    case unspecified = 0, f32 = 1, f16 = 2, int8 = 3, int4 = 4

    public var name: String {
      switch self {
      case .unspecified: "unspecified"
      case .f32: "f32"
      case .f16: "f16"
      case .int8: "int8"
      case .int4: "int4"
      }
    }
  }

  /// How an int8 layer's activations become codes (format 1.2; `static` 1.3).
  public enum ActivationQuant: UInt32, Sendable {
    /// Not stated: `dynamic`.
    case unspecified = 0
    /// Asymmetric per token (row), computed at run time.
    case dynamic = 1
    /// One range for every row (`activationMin`, `activationMax`), measured on calibration
    /// images (format 1.3).
    case `static` = 2
    /// A value this reader does not know.
    case unknown = 0xFFFF_FFFF
  }

  public struct Weight: Equatable, Sendable {
    public var name = ""
    public var type: WeightType = .f32
    /// int8: f32 scale per output column; int4: binary16 scales per column and group.
    public var scaleSection = ""
    /// int8: the i32 sum of each column's codes.
    public var sumsSection = ""
    /// int4: k per scale.
    public var groupSize = 0
    /// int8: the activation quantization.
    public var activation: ActivationQuant = .unspecified
    /// int8, static: the input range the codes cover (min ≤ 0 ≤ max).
    public var activationMin: Float = 0
    public var activationMax: Float = 0
    public init(name: String = "", type: WeightType = .f32, scaleSection: String = "", sumsSection: String = "",
                groupSize: Int = 0, activation: ActivationQuant = .unspecified, activationMin: Float = 0,
                activationMax: Float = 0) {
      self.name = name
      self.type = type
      self.scaleSection = scaleSection
      self.sumsSection = sumsSection
      self.groupSize = groupSize
      self.activation = activation
      self.activationMin = activationMin
      self.activationMax = activationMax
    }
  }

  public struct CompileSettings: Equatable, Sendable {
    public var arguments: [String] = []
    public var sourceName = ""
    public var sourceFormat = ""
    public var sourceSHA256 = ""
    public init() {}
  }

  public struct Calibration: Equatable, Sendable {
    public var images = 0
    public var setSHA256 = ""
    /// Each calibration image's SHA-256 (hex, ascending), so that evaluation can check that its
    /// images are held out. Empty in artifacts written before it existed.
    public var imageSHA256: [String] = []
    public init() {}
  }

  public struct EntropyTable: Equatable, Sendable {
    public var block = 0
    public var headEntropy: [Float] = []
    public var frozenFraction: [Float] = []
    public init() {}
  }
}
