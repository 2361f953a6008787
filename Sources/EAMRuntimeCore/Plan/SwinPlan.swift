import EAMFormat

/// One Swin block as the executor runs it: weights, its window geometry, the row order that
/// shifts and partitions the grid into windows, and the shift mask.
struct SwinBlockPlan {
  let index: Int
  let dim: Int
  let heads: Int
  /// Window side `w` (clamped to the grid); `w²` tokens per window.
  let window: Int
  let shift: Int
  /// Grid side `R`: `R²` tokens per image.
  let resolution: Int
  let norm1: NormWeights
  let qkv: LinearWeights
  let proj: LinearWeights
  /// `[heads][w²][w²]`, precomputed by the compiler.
  let bias: UnsafePointer<Float>
  let mlp: MLPPlan
  /// For window-ordered row `r` (window-major, row-major inside a window, in shifted
  /// coordinates), the grid row it comes from and goes back to: the cyclic shift by −shift and
  /// the window partition in one gather.
  let order: [Int]
  /// `[windows][w²][w²]`: 0 where query and key lie in the same region of the shifted grid,
  /// −100 elsewhere (timm's shifted-window mask); nil without a shift.
  let mask: AlignedBuffer?
  /// Per head: its frozen w²×w² map (EAM), shared by every window of the head; nil where none.
  let frozen: [FrozenHead?]

  var windowTokens: Int { window * window }
  var windows: Int { (resolution / window) * (resolution / window) }
  var tokens: Int { resolution * resolution }
}

/// Patch merging before a stage: 2×2 neighbours concatenated (channel `(dx·2 + dy)·C + c`),
/// LayerNorm over 4C, linear 4C → C′.
struct SwinMergePlan {
  /// Grid side before merging.
  let resolution: Int
  let inDim: Int
  let norm: NormWeights
  let reduction: LinearWeights
}

/// One stage: an optional patch merging, then blocks at one resolution and width.
struct SwinStagePlan {
  let merge: SwinMergePlan?
  let blocks: [SwinBlockPlan]
}

/// Everything a Swin forward pass needs, resolved from the manifest once at load.
struct SwinPlan {
  let architecture: Manifest.Architecture
  let patchEmbed: LinearWeights
  let patchNorm: NormWeights?
  let stages: [SwinStagePlan]
  let finalNorm: NormWeights
  let head: LinearWeights?
  /// Width and grid side of the last stage.
  let finalDim: Int
  let finalResolution: Int
  let outputWidth: Int
  /// Largest `tokens × width` of any stage (per image), and of `tokens × max(3·width, hidden)`.
  let maxActivation: Int
  let maxWide: Int
  /// Largest `w²` of any block.
  let maxWindowTokens: Int

  init(manifest m: Manifest, store: WeightStore) throws(RuntimeError) {
    let a = m.architecture
    let path = store.artifact.path
    guard a.family == .swin else {
      throw RuntimeError("architecture family '\(a.family.name)' is not Swin", path: path)
    }
    let d0 = a.embedDim, p = a.patchSize
    guard d0 > 0, d0 <= 65536, p > 0, p <= 1024, a.inChannels > 0, a.inChannels <= 16,
          a.imageSize > 0, a.imageSize <= 16384, a.imageSize % p == 0,
          (a.imageSize / p) * (a.imageSize / p) <= 1 << 20,
          !a.stageDepths.isEmpty, a.stageDepths.count <= 16, a.stageDepths.allSatisfy({ $0 > 0 }),
          a.stageDepths.reduce(0, +) == m.blocks.count, a.depth == m.blocks.count, a.depth <= 4096
    else {
      throw RuntimeError("manifest Swin architecture is inconsistent (width \(d0), image \(a.imageSize), patch \(p), stages \(Shape.text(a.stageDepths)) with \(m.blocks.count) blocks)", path: path)
    }
    architecture = a
    patchEmbed = try LinearWeights(store, SwinSections.patchEmbed, n: d0, k: a.inChannels * p * p)
    patchNorm = a.patchNorm ? try NormWeights(store, SwinSections.patchNorm, dim: d0) : nil

    var stages: [SwinStagePlan] = []
    var resolution = a.imageSize / p, dim = d0
    var maxActivation = resolution * resolution * dim, maxWide = 0, maxWindowTokens = 0
    var next = 0
    for (s, depth) in a.stageDepths.enumerated() {
      var merge: SwinMergePlan?
      let first = m.blocks[next]
      if s > 0 {
        let out = first.dim
        guard first.mergeBefore, resolution % 2 == 0, out > 0, out <= 65536 else {
          throw RuntimeError("manifest stage \(s) does not start with a valid patch merging (grid \(resolution), width \(out))", path: path)
        }
        let names = SwinSections.Merge(stage: s)
        merge = SwinMergePlan(resolution: resolution, inDim: dim,
                              norm: try NormWeights(store, names.norm, dim: 4 * dim),
                              reduction: try LinearWeights(store, names.reduction, n: out, k: 4 * dim))
        resolution /= 2
        dim = out
        maxActivation = max(maxActivation, resolution * resolution * dim)
      }
      var blocks: [SwinBlockPlan] = []
      for i in 0..<depth {
        let b = m.blocks[next]
        let w = b.windowSize, shift = b.shiftSize
        guard b.index == next, b.stage == s, b.dim == dim, b.resolution == resolution, b.heads > 0, dim % b.heads == 0,
              w > 0, w <= 32, w <= resolution, resolution % w == 0, shift >= 0, shift < w, b.mlpHidden > 0, b.mlpHidden <= 1 << 20,
              b.mergeBefore == (s > 0 && i == 0)
        else {
          throw RuntimeError("manifest block \(next) is inconsistent (stage \(b.stage), width \(b.dim), grid \(b.resolution), window \(w), shift \(shift), heads \(b.heads))", path: path)
        }
        let names = SwinSections.Block(stage: s, block: i)
        let n = w * w
        // One map per head over the window-relative positions (schemas/FORMAT.md, "Frozen
        // attention maps").
        var frozen = [FrozenHead?](repeating: nil, count: b.heads)
        for f in b.frozen {
          guard f.head >= 0, f.head < b.heads, frozen[f.head] == nil else {
            throw RuntimeError("manifest block \(next) has an invalid or repeated frozen head \(f.head)", path: path)
          }
          frozen[f.head] = try FrozenHead(f, tokens: n, store: store, block: next)
        }
        blocks.append(SwinBlockPlan(
          index: next, dim: dim, heads: b.heads, window: w, shift: shift, resolution: resolution,
          norm1: try NormWeights(store, names.norm1, dim: dim),
          qkv: try LinearWeights(store, names.qkv, n: 3 * dim, k: dim),
          proj: try LinearWeights(store, names.proj, n: dim, k: dim),
          bias: try store.floats(names.relativePositionBias, shape: [b.heads, n, n]),
          mlp: MLPPlan(norm: try NormWeights(store, names.norm2, dim: dim),
                       fc1: try LinearWeights(store, names.fc1, n: b.mlpHidden, k: dim),
                       fc2: try LinearWeights(store, names.fc2, n: dim, k: b.mlpHidden)),
          order: Self.windowOrder(resolution: resolution, window: w, shift: shift),
          mask: shift > 0 ? Self.shiftMask(resolution: resolution, window: w, shift: shift) : nil,
          frozen: frozen))
        maxWide = max(maxWide, resolution * resolution * max(3 * dim, b.mlpHidden))
        maxWindowTokens = max(maxWindowTokens, n)
        next += 1
      }
      stages.append(SwinStagePlan(merge: merge, blocks: blocks))
    }
    self.stages = stages
    self.maxActivation = maxActivation
    self.maxWide = maxWide
    self.maxWindowTokens = maxWindowTokens
    finalDim = dim
    finalResolution = resolution
    finalNorm = try NormWeights(store, SwinSections.norm, dim: dim)
    if a.numClasses > 0 {
      head = try LinearWeights(store, SwinSections.head, n: a.numClasses, k: dim)
      outputWidth = a.numClasses
    } else {
      head = nil
      outputWidth = dim
    }
  }

  /// Grid row of each window-ordered row: window `(wy, wx)`, position `(iy, ix)` inside it lies
  /// at `(wy·w + iy, wx·w + ix)` of the grid rolled by −shift, i.e. at
  /// `((wy·w + iy + shift) mod R, (wx·w + ix + shift) mod R)` of the original grid.
  static func windowOrder(resolution r: Int, window w: Int, shift: Int) -> [Int] {
    var order: [Int] = []
    order.reserveCapacity(r * r)
    let perSide = r / w
    for wy in 0..<perSide {
      for wx in 0..<perSide {
        for iy in 0..<w {
          for ix in 0..<w {
            order.append(((wy * w + iy + shift) % r) * r + (wx * w + ix + shift) % r)
          }
        }
      }
    }
    return order
  }

  /// timm's mask for shifted windows: the shifted grid is cut into 3 × 3 regions by the lines
  /// `R − w` and `R − shift` in each direction; tokens of different regions do not attend.
  static func shiftMask(resolution r: Int, window w: Int, shift: Int) -> AlignedBuffer {
    func region(_ v: Int) -> Int { v < r - w ? 0 : (v < r - shift ? 1 : 2) }
    let perSide = r / w, n = w * w
    let mask = AlignedBuffer(count: perSide * perSide * n * n)
    var label = [Int](repeating: 0, count: n)
    for wy in 0..<perSide {
      for wx in 0..<perSide {
        for i in 0..<n { label[i] = region(wy * w + i / w) * 3 + region(wx * w + i % w) }
        let base = mask.pointer + (wy * perSide + wx) * n * n
        for i in 0..<n {
          for j in 0..<n { base[i * n + j] = label[i] == label[j] ? 0 : -100 }
        }
      }
    }
    return mask
  }
}
