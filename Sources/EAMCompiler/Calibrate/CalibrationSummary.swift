import EAMFormat

/// What the manifest and the report record about the statistics a compile used: how many
/// images, the set's hash, and each head's mean row entropy.
struct CalibrationSummary {
  var images: Int
  var setHash: String
  /// Each image's SHA-256 (hex), ascending.
  var imageHashes: [String]
  /// `[block][head]` mean Shannon entropy (nats) of the attention rows; empty for blocks
  /// without attention.
  var headEntropy: [[Float]]

  /// `model`: the model the statistics describe (as recognised).
  init(_ s: AttentionStatistics, model: ModelDescription) {
    images = s.imageCount
    setHash = s.calibrationSetSHA256
    imageHashes = s.images.digests.map(\.hex)
    var entropy = [[Float]](repeating: [], count: model.blocks.count)
    for (l, b) in Calibration.attentionBlocks(model).enumerated() {
      entropy[b] = (0..<model.blocks[b].heads).map { Float(s.headEntropy(layer: l, head: $0)) }
    }
    headEntropy = entropy
  }
}

extension EmitSettings {
  /// Records the calibration and, per block of the compiled model, its heads' entropy and
  /// frozen fractions in the manifest.
  mutating func record(_ calibration: CalibrationSummary, compiled model: ModelDescription) {
    self.calibration.images = calibration.images
    self.calibration.setSHA256 = calibration.setHash
    self.calibration.imageSHA256 = calibration.imageHashes
    entropy = model.blocks.map { b in
      var e = Manifest.EntropyTable()
      e.block = b.index
      e.headEntropy = calibration.headEntropy[b.index]
      e.frozenFraction = model.frozenFractions(block: b.index)
      return e
    }
  }
}

extension ModelDescription {
  /// Per head of `block`: the fraction of its attention-map entries that are frozen.
  func frozenFractions(block: Int) -> [Float] {
    let b = blocks[block]
    let t = mapTokens(block: block)
    return (0..<b.heads).map { h in
      Float(b.frozen.first { $0.head == h }?.frozenEntries ?? 0) / Float(max(1, t * t))
    }
  }
}
