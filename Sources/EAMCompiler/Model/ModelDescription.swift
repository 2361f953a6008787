import EAMFormat
import EAMIngest

/// The typed description of a model that every stage after ingest works on: the architecture,
/// the per-block structure and what the passes decided, the preprocessing, and the weights under
/// timm's canonical names.
///
/// Passes are value → value transforms of this type.
public struct ModelDescription: Sendable {
  public var architecture: Manifest.Architecture
  public var preprocessing: Manifest.Preprocessing
  /// One entry per transformer block, in execution order.
  public var blocks: [Manifest.Block]
  /// Weights by canonical (timm) name.
  public var weights: [String: Tensor]
  /// What recognition noticed and assumed, for the user (e.g. "heads: 6 (assumed head dim 64)").
  public var notes: [String]
  /// Where the attention head count came from (a guess unless the user or the checkpoint said).
  public var headCount = HeadCountSource.guessed
  /// Frozen attention maps decided by the EAM pass (their manifest entries are in `blocks`).
  public var frozenMaps: [FrozenHeadMap] = []

  public init(architecture: Manifest.Architecture, preprocessing: Manifest.Preprocessing,
              blocks: [Manifest.Block], weights: [String: Tensor], notes: [String] = []) {
    self.architecture = architecture
    self.preprocessing = preprocessing
    self.blocks = blocks
    self.weights = weights
    self.notes = notes
  }

  /// Number of float parameters.
  public var parameterCount: Int { weights.values.reduce(0) { $0 + $1.count } }

  /// Tokens per image: prefix tokens plus patch tokens (ViT family).
  public var tokens: Int { architecture.prefixTokens + architecture.patchTokens }

  /// Tokens of one attention map of `block` (the side of its frozen maps): every token for the
  /// ViT family, a window's w² for Swin.
  public func mapTokens(block: Int) -> Int {
    architecture.family == .swin ? blocks[block].windowSize * blocks[block].windowSize : tokens
  }
}
