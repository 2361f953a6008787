import EAMFormat
import EAMImage
import EAMIngest

/// What the user may say about a model that its tensors do not tell.
public struct ModelOverrides: Sendable {
  /// Attention heads per block; default: embedding width / 64 (every timm ViT, DeiT and DINOv2
  /// size up to Large uses head dimension 64).
  public var heads: Int?
  /// Input image side in pixels for models whose tensors do not record it (Swin; default 224).
  public var imageSize: Int?
  public var resizeShorterSide: Int?
  public var cropSize: Int?
  public var mean: [Float]?
  public var std: [Float]?
  public init() {}
}

/// Works out the architecture of a checkpoint from its tensor names and shapes alone.
public enum Recognition {
  public static func describe(_ checkpoint: Checkpoint, overrides: ModelOverrides = ModelOverrides())
    throws(ModelError) -> ModelDescription
  {
    var weights = checkpoint.tensors
    var notes: [String] = []
    var huggingFace = false
    if let prefix = HuggingFaceNames.prefix(of: checkpoint.names) {
      weights = try HuggingFaceNames.convert(weights, prefix: prefix)
      huggingFace = true
      notes.append("Hugging Face naming (prefix '\(prefix)') mapped to timm names")
    }
    if SwinRecognition.matches(weights) {
      return try SwinRecognition.describe(weights, overrides: overrides, notes: notes)
    }
    guard weights["patch_embed.proj.weight"] != nil, weights.keys.contains(where: { $0.hasPrefix("blocks.0.") }) else {
      throw unknown(weights)
    }
    return try describeViT(weights, huggingFace: huggingFace, overrides: overrides, notes: notes)
  }

  static func unknown(_ w: [String: Tensor]) -> ModelError {
    if let family = UnsupportedFamilies.describe(w.keys) { return ModelError(family) }
    let sample = w.keys.sorted().prefix(4).joined(separator: ", ")
    return ModelError("unknown architecture: nearest family is ViT, but 'patch_embed.proj.weight' and 'blocks.0.*' are missing (\(w.count) tensors, e.g. \(sample))")
  }

  // MARK: ViT, DeiT, DINOv2, lambda_vit

  static func describeViT(_ w: [String: Tensor], huggingFace: Bool, overrides: ModelOverrides, notes: [String])
    throws(ModelError) -> ModelDescription
  {
    var notes = notes
    var checker = ShapeChecker(weights: w)
    let patch = try checker.require("patch_embed.proj.weight", rank: 4)
    let dim = patch.shape[0], channels = patch.shape[1], p = patch.shape[2]
    guard patch.shape[3] == p, p > 0, dim > 0 else { throw ModelError("patch_embed.proj.weight has shape \(patch.shape), expected [D, C, p, p]") }
    checker.optional("patch_embed.proj.bias", [dim])

    var a = Manifest.Architecture()
    a.patchSize = p
    a.inChannels = channels
    a.embedDim = dim
    a.classTokens = checker.optional("cls_token", [1, 1, dim]) ? 1 : 0
    a.distillationTokens = checker.optional("dist_token", [1, 1, dim]) ? 1 : 0
    if let reg = w["reg_token"] {
      checker.used.insert("reg_token")
      guard reg.shape.count == 3, reg.shape[0] == 1, reg.shape[2] == dim else {
        throw ModelError("reg_token has shape \(reg.shape), expected [1, R, \(dim)]")
      }
      a.registerTokens = reg.shape[1]
    }
    let pos = try checker.require("pos_embed", rank: 3)
    guard pos.shape[0] == 1, pos.shape[2] == dim else { throw ModelError("pos_embed has shape \(pos.shape), expected [1, N, \(dim)]") }
    let posTokens = pos.shape[1]
    // The position embedding covers the prefix tokens (timm's default) or only the patches
    // (`no_embed_class`, as DINOv2 with registers uses). When both readings give a square grid,
    // registers decide: timm's register models are no_embed_class.
    let covering = posTokens > a.prefixTokens ? squareSide(posTokens - a.prefixTokens) : nil
    let patchesOnly = a.prefixTokens > 0 ? squareSide(posTokens) : nil
    if let side = covering, patchesOnly == nil || a.registerTokens == 0 {
      a.posEmbedCoversPrefix = true
      a.imageSize = side * p
    } else if let side = patchesOnly ?? (a.prefixTokens == 0 ? squareSide(posTokens) : nil) {
      a.posEmbedCoversPrefix = a.prefixTokens == 0
      a.imageSize = side * p
    } else {
      throw ModelError("pos_embed has \(posTokens) positions: not a square grid plus \(a.prefixTokens) prefix tokens")
    }

    // Blocks: count them, and find the attention-removed ones (lambda_vit's Block_shrink).
    var depth = 0
    while w.keys.contains(where: { $0.hasPrefix("blocks.\(depth).") }) { depth += 1 }
    a.depth = depth
    a.stageDepths = [depth]
    let heads = overrides.heads ?? max(1, dim / 64)
    guard heads > 0, dim % heads == 0 else { throw ModelError("\(heads) heads do not divide the width \(dim)") }
    if overrides.heads == nil {
      notes.append("heads: \(heads) per block (assumed head dimension 64; set --heads to override)")
    }
    a.stageHeads = [heads]
    a.layerScale = w["blocks.0.ls1.gamma"] != nil || w["blocks.0.ls2.gamma"] != nil
    a.qkvBias = w["blocks.0.attn.qkv.bias"] != nil
    var blocks: [Manifest.Block] = []
    var hidden = 0
    for i in 0..<depth {
      let b = "blocks.\(i)."
      var block = Manifest.Block()
      block.index = i
      block.heads = heads
      block.dim = dim
      block.attentionRemoved = w[b + "attn.qkv.weight"] == nil && w[b + "norm1.weight"] == nil
      // lambda_vit's shrunk blocks were trained as x = x + x: the manifest says so.
      if block.attentionRemoved { block.residual = .double }
      if !block.attentionRemoved {
        checker.expect(b + "norm1.weight", [dim]); checker.expect(b + "norm1.bias", [dim])
        checker.expect(b + "attn.qkv.weight", [3 * dim, dim])
        if a.qkvBias { checker.expect(b + "attn.qkv.bias", [3 * dim]) }
        checker.expect(b + "attn.proj.weight", [dim, dim]); checker.expect(b + "attn.proj.bias", [dim])
        if a.layerScale { checker.expect(b + "ls1.gamma", [dim]) }
      }
      checker.expect(b + "norm2.weight", [dim]); checker.expect(b + "norm2.bias", [dim])
      let fc1 = try checker.require(b + "mlp.fc1.weight", rank: 2)
      block.mlpHidden = fc1.shape[0]
      hidden = max(hidden, fc1.shape[0])
      checker.expect(b + "mlp.fc1.weight", [block.mlpHidden, dim]); checker.expect(b + "mlp.fc1.bias", [block.mlpHidden])
      checker.expect(b + "mlp.fc2.weight", [dim, block.mlpHidden]); checker.expect(b + "mlp.fc2.bias", [dim])
      if a.layerScale { checker.expect(b + "ls2.gamma", [dim]) }
      blocks.append(block)
    }
    a.mlpHidden = hidden
    let removed = blocks.filter(\.attentionRemoved).count
    if removed > 0 { notes.append("\(removed) attention-removed block(s) (lambda_vit shrink: x = 2x, then the MLP)") }

    // Output: final norm or fc_norm after pooling, then classifier head(s) or features.
    if w["fc_norm.weight"] != nil {
      checker.expect("fc_norm.weight", [dim]); checker.expect("fc_norm.bias", [dim])
      a.fcNorm = true
      a.pooling = .meanPatch
    } else {
      checker.expect("norm.weight", [dim]); checker.expect("norm.bias", [dim])
      a.pooling = a.classTokens > 0 ? .classToken : .meanPatch
    }
    if let head = w["head.weight"] {
      checker.used.insert("head.weight")
      guard head.shape.count == 2, head.shape[1] == dim else { throw ModelError("head.weight has shape \(head.shape), expected [classes, \(dim)]") }
      a.numClasses = head.shape[0]
      checker.expect("head.bias", [a.numClasses])
      if a.distillationTokens > 0 {
        checker.expect("head_dist.weight", [a.numClasses, dim]); checker.expect("head_dist.bias", [a.numClasses])
      }
    }
    try checker.finish()

    if a.distillationTokens > 0 { a.family = .deitDistilled }
    else if a.layerScale || p == 14 { a.family = .dinov2 }
    else { a.family = .vit }
    a.normEps = huggingFace && a.family == .vit ? 1e-12 : 1e-6

    let pre = try preprocessing(imageSize: a.imageSize, cropFraction: 0.875, overrides: overrides)
    return ModelDescription(architecture: a, preprocessing: pre, blocks: blocks, weights: w, notes: notes)
  }

  /// The family's default preprocessing (bicubic resize to crop / cropFraction, centre crop,
  /// ImageNet mean and std), with the user's overrides.
  static func preprocessing(imageSize: Int, cropFraction: Double, overrides: ModelOverrides)
    throws(ModelError) -> Manifest.Preprocessing
  {
    var pre = Manifest.Preprocessing()
    pre.interpolation = .bicubic
    pre.cropSize = overrides.cropSize ?? imageSize
    pre.resizeShorterSide = overrides.resizeShorterSide ?? Int((Double(pre.cropSize) / cropFraction).rounded(.down))
    pre.mean = overrides.mean ?? [0.485, 0.456, 0.406]
    pre.std = overrides.std ?? [0.229, 0.224, 0.225]
    do throws(PreprocessingError) {
      try Preprocessing.check(resizeShorterSide: pre.resizeShorterSide, cropSize: pre.cropSize, mean: pre.mean, std: pre.std)
    } catch { throw ModelError("preprocessing: \(error)") }
    guard pre.cropSize == imageSize else {
      throw ModelError("crop size \(pre.cropSize) differs from the model's image size \(imageSize)")
    }
    return pre
  }

  static func squareSide(_ n: Int) -> Int? {
    guard n > 0 else { return nil }
    var s = Int(Double(n).squareRoot())
    while s * s > n { s -= 1 }
    while (s + 1) * (s + 1) <= n { s += 1 }
    return s * s == n ? s : nil
  }
}

/// Collects missing and wrongly shaped tensors so that one message can name them all.
struct ShapeChecker {
  let weights: [String: Tensor]
  var missing: [String] = []
  var wrong: [String] = []
  var used = Set<String>()
  /// Named in the error message ("inconsistent ViT checkpoint: ...").
  let family: String

  init(weights: [String: Tensor], family: String = "ViT") {
    self.weights = weights
    self.family = family
  }

  mutating func require(_ name: String, rank: Int) throws(ModelError) -> Tensor {
    guard let t = weights[name] else { throw ModelError("'\(name)' is missing") }
    guard t.shape.count == rank else { throw ModelError("'\(name)' has shape \(t.shape), expected rank \(rank)") }
    used.insert(name)
    return t
  }

  mutating func expect(_ name: String, _ shape: [Int]) {
    guard let t = weights[name] else { missing.append(name); return }
    used.insert(name)
    if t.shape != shape { wrong.append("'\(name)' is \(t.shape), expected \(shape)") }
  }

  @discardableResult
  mutating func optional(_ name: String, _ shape: [Int]) -> Bool {
    guard let t = weights[name] else { return false }
    used.insert(name)
    if t.shape != shape { wrong.append("'\(name)' is \(t.shape), expected \(shape)") }
    return true
  }

  func finish() throws(ModelError) {
    var parts: [String] = []
    if !missing.isEmpty { parts.append("missing \(list(missing))") }
    if !wrong.isEmpty { parts.append("wrong shape: \(list(wrong))") }
    let unexpected = weights.keys.filter { !used.contains($0) && !Self.ignorable($0) }.sorted()
    if !unexpected.isEmpty { parts.append("unexpected \(list(unexpected))") }
    if !parts.isEmpty { throw ModelError("inconsistent \(family) checkpoint: " + parts.joined(separator: "; ")) }
  }

  /// Buffers and training-only tensors that a ViT may carry and the runtime does not need.
  static func ignorable(_ name: String) -> Bool {
    name.hasSuffix("num_batches_tracked") || name == "mask_token" || name.hasPrefix("pooler.")
      || name.hasSuffix(".attn_mask") || name.hasSuffix("relative_position_index")
  }

  private func list(_ names: [String]) -> String {
    names.count <= 5 ? names.joined(separator: ", ") : names.prefix(5).joined(separator: ", ") + " and \(names.count - 5) more"
  }
}
