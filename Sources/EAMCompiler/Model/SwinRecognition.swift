import EAMFormat
import EAMIngest

/// Recognition of timm's `SwinTransformer` (v1) from tensor names and shapes.
///
/// Everything except the image size is in the tensors: the width from `patch_embed.proj.weight`,
/// the stages from `layers.S.*`, the depths from `layers.S.blocks.B.*`, the heads and the window of
/// every block from `relative_position_bias_table` (`[(2w−1)², heads]`), the MLP width from
/// `mlp.fc1`, the classes from `head.fc.weight`. The image size is 224 unless overridden (timm's
/// default for every released Swin v1 except the 384 ones).
enum SwinRecognition {
  /// Whether the names look like a Swin checkpoint.
  static func matches(_ w: [String: Tensor]) -> Bool {
    w.keys.contains(where: { $0.hasPrefix("layers.0.blocks.0.") })
  }

  static func describe(_ weights: [String: Tensor], overrides: ModelOverrides, notes: [String])
    throws(ModelError) -> ModelDescription
  {
    var notes = notes
    let w = movingDownsampleToStageStart(weights, notes: &notes)
    var checker = ShapeChecker(weights: w, family: "Swin")
    let patch = try checker.require("patch_embed.proj.weight", rank: 4)
    let dim = patch.shape[0], channels = patch.shape[1], p = patch.shape[2]
    guard patch.shape[3] == p, p > 0, dim > 0 else {
      throw ModelError("patch_embed.proj.weight has shape \(patch.shape), expected [D, C, p, p]")
    }
    checker.optional("patch_embed.proj.bias", [dim])

    var a = Manifest.Architecture()
    a.family = .swin
    a.patchSize = p
    a.inChannels = channels
    a.embedDim = dim
    a.classTokens = 0
    a.posEmbedCoversPrefix = false
    a.pooling = .meanAll
    a.normEps = 1e-5
    a.patchNorm = w["patch_embed.norm.weight"] != nil
    if a.patchNorm { checker.expect("patch_embed.norm.weight", [dim]); checker.expect("patch_embed.norm.bias", [dim]) }
    a.imageSize = overrides.imageSize ?? overrides.cropSize ?? 224
    if overrides.imageSize == nil && overrides.cropSize == nil {
      notes.append("image size: 224 (Swin checkpoints do not record it; set the image size to override)")
    }
    if overrides.heads != nil {
      notes.append("heads override ignored: Swin heads come from each block's relative_position_bias_table")
    }
    guard a.imageSize > 0, a.imageSize % p == 0 else {
      throw ModelError("image size \(a.imageSize) is not a multiple of the patch size \(p)")
    }

    // Stages and their blocks.
    var stageCount = 0
    while w.keys.contains(where: { $0.hasPrefix("layers.\(stageCount).") }) { stageCount += 1 }
    guard stageCount > 0 else { throw ModelError("'layers.0.blocks.0.*' is missing") }
    a.qkvBias = w["layers.0.blocks.0.attn.qkv.bias"] != nil

    var blocks: [Manifest.Block] = []
    var resolution = a.imageSize / p
    var width = dim
    var configuredWindow = 0
    var hidden = 0
    for s in 0..<stageCount {
      let stage = "layers.\(s)."
      if s > 0 {
        let reduction = try checker.require(stage + "downsample.reduction.weight", rank: 2)
        let out = reduction.shape[0]
        checker.expect(stage + "downsample.reduction.weight", [out, 4 * width])
        checker.expect(stage + "downsample.norm.weight", [4 * width])
        checker.expect(stage + "downsample.norm.bias", [4 * width])
        guard resolution % 2 == 0 else {
          throw ModelError("stage \(s) merges patches of an odd \(resolution)×\(resolution) grid (padding is not supported); use an image size that halves evenly")
        }
        resolution /= 2
        width = out
      }
      var depth = 0
      while w.keys.contains(where: { $0.hasPrefix(stage + "blocks.\(depth).") }) { depth += 1 }
      guard depth > 0 else { throw ModelError("stage \(s) has no blocks ('\(stage)blocks.0.*' is missing)") }
      var stageHeads = 0
      for i in 0..<depth {
        let b = stage + "blocks.\(i)."
        let table = try checker.require(b + "attn.relative_position_bias_table", rank: 2)
        guard let side = Recognition.squareSide(table.shape[0]), side % 2 == 1, table.shape[1] > 0 else {
          throw ModelError("'\(b)attn.relative_position_bias_table' has shape \(table.shape), expected [(2w−1)², heads]")
        }
        let window = (side + 1) / 2, heads = table.shape[1]
        guard width % heads == 0 else { throw ModelError("block \(b.dropLast()): \(heads) heads do not divide the width \(width)") }
        if stageHeads == 0 { stageHeads = heads }
        guard heads == stageHeads else {
          throw ModelError("stage \(s) mixes \(stageHeads) and \(heads) heads ('\(b)attn.relative_position_bias_table')")
        }
        // timm clamps the window to the grid and then uses no shift; otherwise odd blocks shift by w/2.
        if window < resolution { configuredWindow = configuredWindow == 0 ? window : configuredWindow }
        if configuredWindow != 0 && window < resolution && window != configuredWindow {
          throw ModelError("'\(b)attn.relative_position_bias_table' implies window \(window), other blocks use \(configuredWindow)")
        }
        guard window <= resolution else {
          throw ModelError("'\(b)attn.relative_position_bias_table' implies window \(window), larger than the \(resolution)×\(resolution) grid at image size \(a.imageSize)")
        }
        guard resolution % window == 0 else {
          throw ModelError("window \(window) does not divide the \(resolution)×\(resolution) grid of stage \(s) (padding is not supported); check the image size \(a.imageSize)")
        }
        var block = Manifest.Block()
        block.index = blocks.count
        block.stage = s
        block.dim = width
        block.heads = heads
        block.windowSize = window
        block.shiftSize = (window < resolution && i % 2 == 1) ? window / 2 : 0
        block.mergeBefore = s > 0 && i == 0
        block.resolution = resolution

        checker.expect(b + "norm1.weight", [width]); checker.expect(b + "norm1.bias", [width])
        checker.expect(b + "attn.qkv.weight", [3 * width, width])
        if a.qkvBias { checker.expect(b + "attn.qkv.bias", [3 * width]) }
        checker.expect(b + "attn.proj.weight", [width, width]); checker.expect(b + "attn.proj.bias", [width])
        checker.expect(b + "norm2.weight", [width]); checker.expect(b + "norm2.bias", [width])
        let fc1 = try checker.require(b + "mlp.fc1.weight", rank: 2)
        block.mlpHidden = fc1.shape[0]
        hidden = max(hidden, block.mlpHidden)
        checker.expect(b + "mlp.fc1.weight", [block.mlpHidden, width]); checker.expect(b + "mlp.fc1.bias", [block.mlpHidden])
        checker.expect(b + "mlp.fc2.weight", [width, block.mlpHidden]); checker.expect(b + "mlp.fc2.bias", [width])
        blocks.append(block)
      }
      a.stageDepths.append(depth)
      a.stageHeads.append(stageHeads)
    }
    if configuredWindow == 0 { configuredWindow = blocks.map(\.windowSize).max() ?? 0 }
    a.windowSize = configuredWindow
    a.depth = blocks.count
    a.mlpHidden = hidden

    checker.expect("norm.weight", [width]); checker.expect("norm.bias", [width])
    if let head = w["head.fc.weight"] {
      guard head.shape.count == 2, head.shape[1] == width else {
        throw ModelError("head.fc.weight has shape \(head.shape), expected [classes, \(width)]")
      }
      checker.expect("head.fc.weight", head.shape)
      a.numClasses = head.shape[0]
      checker.expect("head.fc.bias", [a.numClasses])
    }
    try checker.finish()
    notes.append("Swin: stages \(a.stageDepths), heads \(a.stageHeads), window \(a.windowSize) (from relative_position_bias_table)")

    let pre = try Recognition.preprocessing(imageSize: a.imageSize, cropFraction: 0.9, overrides: overrides)
    return ModelDescription(architecture: a, preprocessing: pre, blocks: blocks, weights: w, notes: notes)
  }

  /// timm < 0.9 kept each patch merging at the end of the stage before (`layers.S.downsample`
  /// for S < last); timm ≥ 0.9 at the start of the stage after. Same tensors, same channel order:
  /// renames the old layout to the new one.
  static func movingDownsampleToStageStart(_ w: [String: Tensor], notes: inout [String]) -> [String: Tensor] {
    guard w.keys.contains(where: { $0.hasPrefix("layers.0.downsample.") }) else { return w }
    var out: [String: Tensor] = [:]
    for (name, t) in w {
      let parts = name.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
      if parts.count == 4, parts[0] == "layers", parts[2] == "downsample", let s = Int(parts[1]) {
        out["layers.\(s + 1).downsample.\(parts[3])"] = t
      } else {
        out[name] = t
      }
    }
    notes.append("timm < 0.9 layout: patch merging moved from the end of each stage to the start of the next")
    return out
  }
}
