/// What calibration hands to the compression passes and the report.
public struct CalibrationResult: Sendable {
  /// Images folded in.
  public var images: Int
  /// SHA-256-based hash of the calibration set, independent of order and sharding.
  public var setHash: String
  /// `perHead[layer][head]`; nil for blocks without attention.
  public var perHead: [[HeadEntryStatistics]?]
  /// Mean Shannon entropy (nats) of the attention rows, `[layer][head]` (empty for no attention).
  public var headEntropy: [[Float]]

  public init(images: Int, setHash: String, perHead: [[HeadEntryStatistics]?], headEntropy: [[Float]]) {
    self.images = images
    self.setHash = setHash
    self.perHead = perHead
    self.headEntropy = headEntropy
  }
}
