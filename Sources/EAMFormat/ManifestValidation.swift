/// The domain of every manifest field a reader uses (docs/VALIDATION.md), checked before any of it
/// is used: an attacker can recompute the checksums, so a manifest that opens is not yet a
/// manifest that makes sense. Arithmetic on the values is overflow-checked; the first value out of
/// its domain is one `FormatError` line naming the field.
///
/// What depends on the sections (shapes, the decoded frozen values) is checked where the sections
/// are read (the runtime's plans); what depends on the machine (memory) by the runtime's budget.
public enum ManifestValidation {
  /// Largest image side (pixels) and patch side a reader accepts.
  public static let maxImageSize = 16384
  public static let maxPatchSize = 1024
  public static let maxChannels = 16
  public static let maxWidth = 65536
  public static let maxHidden = 1 << 20
  public static let maxDepth = 4096
  public static let maxRegisterTokens = 1024
  /// Tokens of a ViT-family sequence (the T×T attention map is then 16 GiB of f32: the memory
  /// budget refuses far less).
  public static let maxTokens = 65536
  public static let maxClasses = 1 << 20
  public static let maxStages = 16
  public static let maxWindow = 32
  /// LayerNorm epsilon: positive (0 divides by zero on a constant row) and at most this; real
  /// models use 1e-12 to 1e-5.
  public static let maxNormEps: Float = 1e-2
  /// Largest resize of the preprocessing (shorter side, pixels), as EAMImage's `Preprocessing`.
  public static let maxPreprocessingSide = 8192
  /// Float rounding allowed above the bounds on frozen probabilities: the largest code times the
  /// scale at most 1; a row's frozen values at most 1 + k·scale/2 (k values, each rounded by at
  /// most half a step; checked from the decoded values at load).
  public static let frozenMassTolerance: Float = 1e-4

  /// What the checks derived, for the reader that goes on to plan the model.
  public struct Derived: Equatable, Sendable {
    /// ViT family: prefix plus patch tokens; Swin: patch tokens of the first stage.
    public var tokens: Int
    public var patchTokens: Int
  }

  /// Checks the whole manifest; `path` names the file in the error.
  @discardableResult
  public static func check(_ m: Manifest, path: String? = nil) throws(FormatError) -> Derived {
    do throws(FormatError) {
      let derived = try architecture(m)
      try blocks(m, tokens: derived.tokens)
      try weights(m)
      try preprocessing(m.preprocessing)
      try entropy(m)
      return derived
    } catch {
      throw path.map { error.at($0) } ?? error
    }
  }

  static func fail(_ message: String) -> FormatError { FormatError(.invalid, "manifest: " + message) }

  static func architecture(_ m: Manifest) throws(FormatError) -> Derived {
    let a = m.architecture
    switch a.family {
    case .vit, .deit, .deitDistilled, .dinov2, .swin: break
    case .unspecified: throw fail("architecture family is unspecified or unknown")
    }
    guard a.imageSize >= 1, a.imageSize <= maxImageSize else {
      throw fail("image size \(a.imageSize) is outside 1…\(maxImageSize)")
    }
    guard a.patchSize >= 1, a.patchSize <= maxPatchSize, a.patchSize <= a.imageSize, a.imageSize % a.patchSize == 0 else {
      throw fail("patch size \(a.patchSize) does not divide the image size \(a.imageSize) (1…\(maxPatchSize))")
    }
    guard a.inChannels >= 1, a.inChannels <= maxChannels else {
      throw fail("\(a.inChannels) input channels (1…\(maxChannels))")
    }
    guard a.embedDim >= 1, a.embedDim <= maxWidth else { throw fail("width \(a.embedDim) is outside 1…\(maxWidth)") }
    guard a.depth >= 1, a.depth <= maxDepth, a.depth == m.blocks.count else {
      throw fail("depth \(a.depth) with \(m.blocks.count) blocks (1…\(maxDepth), equal)")
    }
    guard a.mlpHidden >= 0, a.mlpHidden <= maxHidden else { throw fail("MLP width \(a.mlpHidden) is over \(maxHidden)") }
    guard a.normEps.isFinite, a.normEps > 0, a.normEps <= maxNormEps else {
      throw fail("LayerNorm epsilon \(a.normEps) is outside (0, \(maxNormEps)]")
    }
    guard a.numClasses >= 0, a.numClasses <= maxClasses else { throw fail("\(a.numClasses) classes (at most \(maxClasses))") }
    let side = a.imageSize / a.patchSize
    let (patchTokens, o1) = side.multipliedReportingOverflow(by: side)
    guard !o1 else { throw fail("image \(a.imageSize) with patch \(a.patchSize) overflows the token count") }
    if a.family == .swin { return try swin(m, patchTokens: patchTokens) }
    guard a.classTokens >= 0, a.classTokens <= 1, a.distillationTokens >= 0, a.distillationTokens <= 1,
          a.registerTokens >= 0, a.registerTokens <= maxRegisterTokens
    else {
      throw fail("prefix tokens (class \(a.classTokens), distillation \(a.distillationTokens), registers \(a.registerTokens)) outside 0…1, 0…1, 0…\(maxRegisterTokens)")
    }
    guard (a.family == .deitDistilled) == (a.distillationTokens == 1), a.distillationTokens == 0 || a.classTokens == 1 else {
      throw fail("family \(a.family.name) with \(a.distillationTokens) distillation and \(a.classTokens) class tokens")
    }
    let (tokens, o2) = patchTokens.addingReportingOverflow(a.classTokens + a.distillationTokens + a.registerTokens)
    guard !o2, tokens <= maxTokens else { throw fail("\(tokens) tokens (at most \(maxTokens))") }
    switch a.pooling {
    case .classToken:
      guard a.classTokens == 1 else { throw fail("class-token pooling without a class token") }
    case .meanPatch, .meanAll: break
    case .unspecified: throw fail("pooling is unspecified or unknown")
    }
    return Derived(tokens: tokens, patchTokens: patchTokens)
  }

  /// Swin's stage lists; the per-block geometry is checked against the stages by the plan.
  static func swin(_ m: Manifest, patchTokens: Int) throws(FormatError) -> Derived {
    let a = m.architecture
    guard !a.stageDepths.isEmpty, a.stageDepths.count <= maxStages,
          a.stageDepths.allSatisfy({ $0 >= 1 && $0 <= maxDepth }),
          a.stageHeads.isEmpty || a.stageHeads.count == a.stageDepths.count,
          a.stageHeads.allSatisfy({ $0 >= 1 && $0 <= maxWidth })
    else {
      throw fail("Swin stages \(Shape.text(a.stageDepths)) with heads \(Shape.text(a.stageHeads)) (1…\(maxStages) stages of 1 or more blocks)")
    }
    var sum = 0
    for d in a.stageDepths { sum += d }  // ≤ 16 × 4096: no overflow
    guard sum == m.blocks.count else { throw fail("Swin stages hold \(sum) blocks, the manifest has \(m.blocks.count)") }
    // Each merge halves the grid: the grid must be even before every stage after the first.
    guard a.stageDepths.count == 1 || (a.imageSize / a.patchSize) % (1 << (a.stageDepths.count - 1)) == 0 else {
      throw fail("Swin grid \(a.imageSize / a.patchSize) cannot be halved \(a.stageDepths.count - 1) times")
    }
    return Derived(tokens: patchTokens, patchTokens: patchTokens)
  }

  static func blocks(_ m: Manifest, tokens: Int) throws(FormatError) {
    let a = m.architecture
    for (i, b) in m.blocks.enumerated() {
      guard b.index == i else { throw fail("block \(i) says it is block \(b.index)") }
      guard b.dim >= 1, b.dim <= maxWidth, a.family == .swin || b.dim == a.embedDim else {
        throw fail("block \(i) has width \(b.dim) (the model's is \(a.embedDim))")
      }
      guard b.heads >= 1, b.heads <= b.dim, b.dim % b.heads == 0 else {
        throw fail("block \(i): \(b.heads) heads do not divide its width \(b.dim)")
      }
      guard b.mlpHidden >= 1, b.mlpHidden <= maxHidden else { throw fail("block \(i) has MLP width \(b.mlpHidden) (1…\(maxHidden))") }
      let residual = b.effectiveResidual
      guard residual != .unknown, b.attentionRemoved == (residual != .attention) else {
        throw fail("block \(i) has residual rule \(b.residual.rawValue), which does not match its attention")
      }
      guard b.frozenFraction.isFinite, b.frozenFraction >= 0, b.frozenFraction <= 1 else {
        throw fail("block \(i) has frozen fraction \(b.frozenFraction) (0…1)")
      }
      if a.family == .swin {
        guard b.stage >= 0, b.stage < a.stageDepths.count, b.windowSize >= 1, b.windowSize <= maxWindow,
              b.shiftSize >= 0, b.shiftSize < b.windowSize, b.resolution >= 1, b.resolution <= maxImageSize
        else {
          throw fail("Swin block \(i): stage \(b.stage), window \(b.windowSize), shift \(b.shiftSize), grid \(b.resolution)")
        }
        guard !b.attentionRemoved else { throw fail("Swin block \(i) has no attention (not supported)") }
        // Frozen maps are over the window-relative positions: w² tokens (w ≤ 32: no overflow).
        try frozenMaps(b, block: i, tokens: b.windowSize * b.windowSize)
        continue
      }
      guard !b.attentionRemoved || (b.frozen.isEmpty && b.hallucinated.isEmpty) else {
        throw fail("block \(i) has frozen maps or hallucinated heads but no attention")
      }
      guard b.mlpRank >= 0, b.mlpRank < b.dim, b.mlpRank < b.mlpHidden else {
        throw fail("block \(i) has MLP rank \(b.mlpRank) (0, or below its width \(b.dim) and MLP width \(b.mlpHidden))")
      }
      guard b.hallucinated.count < b.heads else { throw fail("block \(i) hallucinates \(b.hallucinated.count) of \(b.heads) heads") }
      try frozenMaps(b, block: i, tokens: tokens)
    }
  }

  /// The frozen maps of block `i`, each over `tokens`² entries (ViT family: tokens ≤ 2^16; Swin:
  /// the window's w² ≤ 1024): one per head at most.
  static func frozenMaps(_ b: Manifest.Block, block i: Int, tokens: Int) throws(FormatError) {
    var seen = [Bool](repeating: false, count: b.heads)
    for f in b.frozen {
      guard f.head >= 0, f.head < b.heads, !seen[f.head] else {
        throw fail("block \(i) has a frozen map for head \(f.head) (\(b.heads) heads, each at most once)")
      }
      seen[f.head] = true
      try frozen(f, block: i, entries: tokens * tokens, tokens: tokens)
    }
  }

  /// A frozen map: its counts, and a scale whose largest code cannot make a single entry more
  /// than a probability (the row sums are checked exactly from the decoded values at load).
  static func frozen(_ f: Manifest.FrozenMap, block: Int, entries: Int, tokens: Int) throws(FormatError) {
    let name = "block \(block) head \(f.head)"
    guard f.bits >= 1, f.bits <= 8 else { throw fail("\(name): frozen map of \(f.bits) bits (1…8)") }
    let maxCode = Float((1 << f.bits) - 1)
    // 0 is a scale: the compiler writes it when every frozen value is 0.
    guard f.scale.isFinite, f.scale >= 0, maxCode * f.scale <= 1 + frozenMassTolerance else {
      throw fail("\(name): frozen map scale \(f.scale) (0 to 1/\(Int(maxCode)) for \(f.bits) bits)")
    }
    guard f.frozenEntries >= 1, f.frozenEntries <= entries else {
      throw fail("\(name): \(f.frozenEntries) frozen entries of \(entries)")
    }
    guard f.wholeHead == (f.frozenEntries == entries) else { throw fail("\(name): whole_head does not match \(f.frozenEntries) of \(entries) entries") }
    guard !f.maskSection.isEmpty, !f.valuesSection.isEmpty, f.maskSection != f.valuesSection else {
      throw fail("\(name): frozen map sections '\(f.maskSection)' and '\(f.valuesSection)'")
    }
  }

  static func weights(_ m: Manifest) throws(FormatError) {
    for w in m.weights {
      switch w.type {
      case .f32, .f16: break
      case .int8:
        guard !w.scaleSection.isEmpty, !w.sumsSection.isEmpty, w.scaleSection != w.sumsSection,
              w.scaleSection != w.name, w.sumsSection != w.name else {
          throw fail("int8 weight '\(w.name)' needs distinct scale and sum sections ('\(w.scaleSection)', '\(w.sumsSection)')")
        }
        guard w.activation != .unknown else { throw fail("int8 weight '\(w.name)' has an unknown activation quantization") }
        if w.activation == .static {
          let lo = w.activationMin, hi = w.activationMax
          guard lo.isFinite, hi.isFinite, lo <= 0, hi >= 0, (hi - lo).isFinite else {
            throw fail("int8 weight '\(w.name)' has static activation range [\(lo), \(hi)] (finite, min ≤ 0 ≤ max)")
          }
        }
      case .int4:
        guard !w.scaleSection.isEmpty, w.scaleSection != w.name else { throw fail("int4 weight '\(w.name)' has no scale section") }
        guard w.groupSize >= 1, w.groupSize <= maxHidden else {
          throw fail("int4 weight '\(w.name)' has group size \(w.groupSize) (1…\(maxHidden))")
        }
      case .unspecified: throw fail("weight '\(w.name)' has an unspecified or unknown type")
      }
      guard !w.name.isEmpty else { throw fail("a weight entry has no name") }
    }
  }

  /// The preprocessing a host applies to images: the same domain as EAMImage's `Preprocessing`
  /// (1 ≤ crop ≤ resize ≤ 8192; three finite means; three finite positive stds that keep every
  /// normalised value finite); the interpolation must be known.
  public static func preprocessing(_ p: Manifest.Preprocessing) throws(FormatError) {
    guard p.resizeShorterSide >= 1, p.resizeShorterSide <= maxPreprocessingSide else {
      throw fail("preprocessing resize \(p.resizeShorterSide) is outside 1…\(maxPreprocessingSide)")
    }
    guard p.cropSize >= 1, p.cropSize <= p.resizeShorterSide else {
      throw fail("preprocessing crop \(p.cropSize) is outside 1…\(p.resizeShorterSide) (the resize)")
    }
    guard p.mean.count == 3, p.std.count == 3 else {
      throw fail("preprocessing has \(p.mean.count) means and \(p.std.count) stds (3 each: R, G, B)")
    }
    for c in 0..<3 {
      let mean = p.mean[c], std = p.std[c]
      guard mean.isFinite, std.isFinite, std > 0, (-mean / std).isFinite, ((1 - mean) / std).isFinite else {
        throw fail("preprocessing mean \(mean) and std \(std) (channel \(c)): finite, std positive, normalised values finite")
      }
    }
    switch p.interpolation {
    case .bicubic, .bilinear: break
    case .unspecified: throw fail("preprocessing interpolation is unspecified or unknown")
    }
  }

  /// Entropy tables are only shown (inspect, reports): one per block at most, a value per head,
  /// entropies finite and non-negative, frozen fractions in 0…1.
  static func entropy(_ m: Manifest) throws(FormatError) {
    var seen = [Bool](repeating: false, count: m.blocks.count)
    for e in m.entropy {
      guard e.block >= 0, e.block < m.blocks.count, !seen[e.block] else {
        throw fail("entropy table for block \(e.block) (\(m.blocks.count) blocks, one table each)")
      }
      seen[e.block] = true
      let heads = m.blocks[e.block].heads
      guard e.headEntropy.count <= heads, e.frozenFraction.count <= heads,
            e.headEntropy.allSatisfy({ $0.isFinite && $0 >= 0 }),
            e.frozenFraction.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 })
      else { throw fail("entropy table for block \(e.block) has values outside their domain") }
    }
  }
}
