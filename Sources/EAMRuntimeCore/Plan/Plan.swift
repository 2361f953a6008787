import EAMFormat
import EAMKernels

/// Weights of a linear layer: panel-packed W (`[n][k]`, in its stored type) and a bias of n.
struct LinearWeights {
  let weight: PackedWeight
  let bias: UnsafePointer<Float>
  let n: Int
  let k: Int

  init(_ store: WeightStore, _ s: LinearSections, n: Int, k: Int) throws(RuntimeError) {
    weight = try store.packedWeight(s.weight, n: n, k: k)
    bias = try store.floats(s.bias, shape: [n])
    self.n = n
    self.k = k
  }
}

struct NormWeights {
  let gamma: UnsafePointer<Float>
  let beta: UnsafePointer<Float>

  init(_ store: WeightStore, _ s: NormSections, dim: Int) throws(RuntimeError) {
    gamma = try store.floats(s.weight, shape: [dim])
    beta = try store.floats(s.bias, shape: [dim])
  }
}

/// The MLP half of a block: LayerNorm, fc1 with GELU, fc2 added to the residual stream.
struct MLPPlan {
  let norm: NormWeights
  let fc1: LinearWeights
  /// fc2, or with compact FFN its second factor (rank → width).
  let fc2: LinearWeights
  /// Compact FFN's first factor of fc2 (hidden → rank, rank below the width); nil: fc2 is one matrix.
  var fc2Reduce: LinearWeights? = nil
}

/// The attention half of a block.
struct AttentionPlan {
  let norm: NormWeights
  let qkv: LinearWeights
  let proj: LinearWeights
  let heads: Int
  /// Column offsets of each head's Q, K, V in the qkv output.
  let layout: QKVLayout
  /// Per head: its frozen map, if EAM froze any of its entries.
  let frozen: [FrozenHead?]
  /// Per head: how its map is made from other heads' maps, if it is hallucinated.
  var hallucinated: [HallucinatedHeadPlan?] = [] {
    didSet {
      madeHeads = hallucinated.indices.filter { hallucinated[$0] != nil }
      computedHeads = hallucinated.indices.filter { hallucinated[$0] == nil }
    }
  }
  /// The heads that are hallucinated, and those that compute their maps (when some are).
  private(set) var madeHeads: [Int] = []
  private(set) var computedHeads: [Int] = []
  var hasHallucinated: Bool { !madeHeads.isEmpty }
}

/// A hallucinated head: its map from the maps of `sources` (computed heads of the same block).
struct HallucinatedHeadPlan {
  let sources: [Int32]
  let weights: [Float]
  let intercept: Float

  /// Checks the manifest's description against the block (`whole`: heads frozen whole).
  init(_ h: Manifest.HallucinatedHead, heads: Int, hallucinated: Set<Int>, whole: Set<Int>, block: Int, path: String)
    throws(RuntimeError)
  {
    func bad(_ what: String) -> RuntimeError { RuntimeError("manifest block \(block) hallucinated head \(h.head): \(what)", path: path) }
    guard !h.sources.isEmpty, h.sources.count == h.weights.count else {
      throw bad("\(h.sources.count) sources and \(h.weights.count) weights")
    }
    guard Set(h.sources).count == h.sources.count,
          h.sources.allSatisfy({ $0 >= 0 && $0 < heads && !hallucinated.contains($0) && !whole.contains($0) }) else {
      throw bad("sources \(h.sources) must be distinct computed heads of the block's \(heads)")
    }
    guard h.intercept.isFinite, abs(h.intercept) <= 1e4, h.weights.allSatisfy({ $0.isFinite && abs($0) <= 1e4 }) else {
      throw bad("weights and intercept must be finite and at most 1e4 in magnitude")
    }
    sources = h.sources.map { Int32($0) }
    weights = h.weights
    intercept = h.intercept
  }
}

/// One transformer block, as the executor runs it.
struct BlockPlan {
  let index: Int
  /// nil: attention removed; `residual` says what replaces it.
  let attention: AttentionPlan?
  let residual: Manifest.Residual
  let mlp: MLPPlan
}

/// Everything a ViT-family forward pass needs, resolved from the manifest once at load.
struct ViTPlan {
  let architecture: Manifest.Architecture
  let dim: Int
  let tokens: Int
  let patchTokens: Int
  let grid: Int
  let patchEmbed: LinearWeights
  let classToken: UnsafePointer<Float>?
  let distToken: UnsafePointer<Float>?
  let regTokens: UnsafePointer<Float>?
  let posEmbed: UnsafePointer<Float>
  let blocks: [BlockPlan]
  let finalNorm: NormWeights?
  let fcNorm: NormWeights?
  let head: LinearWeights?
  let headDist: LinearWeights?
  let maxHidden: Int
  let outputWidth: Int
  /// Heads run the fused attention kernel (when no observer needs the maps).
  let fusedAttention: Bool
  /// Floats of scratch per thread the fused kernel needs (0 when unfused).
  let fusedScratch: Int
  /// Floats of the per-image map store that hallucinated heads read (0: no block has any).
  let hallucinationMaps: Int

  init(manifest m: Manifest, store: WeightStore, attention: AttentionKernel = .automatic, pool: ThreadPool) throws(RuntimeError) {
    let a = m.architecture
    let path = store.artifact.path
    guard a.family == .vit || a.family == .deit || a.family == .deitDistilled || a.family == .dinov2 else {
      throw RuntimeError("architecture family '\(a.family.name)' is not supported by this runtime", path: path)
    }
    let d = a.embedDim
    guard d > 0, d <= 65536, a.patchSize > 0, a.patchSize <= 1024, a.inChannels > 0, a.inChannels <= 16,
          a.imageSize > 0, a.imageSize <= 16384, a.imageSize % a.patchSize == 0,
          a.classTokens <= 1, a.distillationTokens <= 1, a.registerTokens <= 1024,
          a.depth == m.blocks.count, a.depth <= 4096
    else { throw RuntimeError("manifest architecture is inconsistent (width \(d), image \(a.imageSize), patch \(a.patchSize), depth \(a.depth) with \(m.blocks.count) blocks)", path: path) }
    architecture = a
    dim = d
    grid = a.imageSize / a.patchSize
    patchTokens = grid * grid
    tokens = a.prefixTokens + patchTokens
    guard tokens <= 65536 else { throw RuntimeError("manifest implies \(tokens) tokens (at most 65536)", path: path) }
    let fused = attention.isFused(tokens: tokens)
    fusedAttention = fused
    var scratch = 0
    var mapsForHallucination = 0
    let patchK = a.inChannels * a.patchSize * a.patchSize
    patchEmbed = try LinearWeights(store, ViTSections.patchEmbed, n: d, k: patchK)
    classToken = a.classTokens > 0 ? try store.floats(ViTSections.classToken, shape: [1, 1, d]) : nil
    distToken = a.distillationTokens > 0 ? try store.floats(ViTSections.distillationToken, shape: [1, 1, d]) : nil
    regTokens = a.registerTokens > 0 ? try store.floats(ViTSections.registerTokens, shape: [1, a.registerTokens, d]) : nil
    posEmbed = try store.floats(ViTSections.positionEmbedding, shape: [1, a.posEmbedCoversPrefix ? tokens : patchTokens, d])
    var blocks: [BlockPlan] = []
    var maxHidden = 0
    for b in m.blocks {
      let names = ViTSections.Block(b.index)
      guard b.index == blocks.count, b.dim == d, b.heads > 0, d % b.heads == 0, b.mlpHidden > 0, b.mlpHidden <= 1 << 20 else {
        throw RuntimeError("manifest block \(blocks.count) is inconsistent (index \(b.index), heads \(b.heads), width \(b.dim))", path: path)
      }
      let residual = b.effectiveResidual
      guard residual != .unknown, b.attentionRemoved == (residual != .attention) else {
        throw RuntimeError("manifest block \(b.index) has residual rule \(b.residual.rawValue) that does not match its attention", path: path)
      }
      var attention: AttentionPlan?
      if !b.attentionRemoved {
        // The sections are read here, in order; the heads decode in parallel.
        var seen = [Bool](repeating: false, count: b.heads)
        var maps: [FrozenMapBytes] = []
        for f in b.frozen {
          guard f.head >= 0, f.head < b.heads, !seen[f.head] else {
            throw RuntimeError("manifest block \(b.index) has an invalid or repeated frozen head \(f.head)", path: path)
          }
          seen[f.head] = true
          maps.append(try FrozenMapBytes(f, tokens: tokens, store: store, block: b.index))
        }
        var frozen = [FrozenHead?](repeating: nil, count: b.heads)
        let heads = try FrozenHead.decode(maps, tokens: tokens, path: path, fused: fused, pool: pool)
        for (map, head) in zip(maps, heads) { frozen[map.map.head] = head }
        let layout = QKVLayout(b)
        if fused { scratch = max(scratch, Kernels.attentionScratchCount(tokens: tokens, headDim: d / b.heads)) }
        var plan = AttentionPlan(norm: try NormWeights(store, names.norm1, dim: d),
                                 qkv: try LinearWeights(store, names.qkv, n: layout.width, k: d),
                                 proj: try LinearWeights(store, names.proj, n: d, k: d),
                                 heads: b.heads, layout: layout, frozen: frozen)
        if !b.hallucinated.isEmpty {
          let made = Set(b.hallucinated.map { $0.head })
          let whole = Set(b.frozen.filter { $0.wholeHead }.map { $0.head })
          var hallucinated = [HallucinatedHeadPlan?](repeating: nil, count: b.heads)
          for h in b.hallucinated {
            guard h.head >= 0, h.head < b.heads, hallucinated[h.head] == nil, frozen[h.head] == nil else {
              throw RuntimeError("manifest block \(b.index) has an invalid, repeated or frozen hallucinated head \(h.head)", path: path)
            }
            hallucinated[h.head] = try HallucinatedHeadPlan(h, heads: b.heads, hallucinated: made, whole: whole, block: b.index, path: path)
          }
          guard made.count < b.heads else { throw RuntimeError("manifest block \(b.index) hallucinates every head", path: path) }
          plan.hallucinated = hallucinated
          mapsForHallucination = max(mapsForHallucination, b.heads * tokens * tokens)
        }
        attention = plan
      }
      let mlp: MLPPlan
      if b.mlpRank > 0 {
        // The rank-wide intermediate lives in the d-wide scratch, so the rank must be below d.
        guard b.mlpRank < d, b.mlpRank < b.mlpHidden else {
          throw RuntimeError("manifest block \(b.index) has MLP rank \(b.mlpRank); a compact FFN's rank is below the width \(d) and the hidden width \(b.mlpHidden)", path: path)
        }
        mlp = MLPPlan(norm: try NormWeights(store, names.norm2, dim: d),
                      fc1: try LinearWeights(store, names.fc1, n: b.mlpHidden, k: d),
                      fc2: try LinearWeights(store, names.fc2Expand, n: d, k: b.mlpRank),
                      fc2Reduce: try LinearWeights(store, names.fc2Reduce, n: b.mlpRank, k: b.mlpHidden))
      } else {
        mlp = MLPPlan(norm: try NormWeights(store, names.norm2, dim: d),
                      fc1: try LinearWeights(store, names.fc1, n: b.mlpHidden, k: d),
                      fc2: try LinearWeights(store, names.fc2, n: d, k: b.mlpHidden))
      }
      blocks.append(BlockPlan(index: b.index, attention: attention, residual: residual, mlp: mlp))
      maxHidden = max(maxHidden, b.mlpHidden)
    }
    self.blocks = blocks
    self.maxHidden = maxHidden
    fusedScratch = scratch
    hallucinationMaps = mapsForHallucination
    finalNorm = a.fcNorm ? nil : try NormWeights(store, ViTSections.norm, dim: d)
    fcNorm = a.fcNorm ? try NormWeights(store, ViTSections.fcNorm, dim: d) : nil
    if a.numClasses > 0 {
      head = try LinearWeights(store, ViTSections.head, n: a.numClasses, k: d)
      headDist = a.distillationTokens > 0 ? try LinearWeights(store, ViTSections.headDistillation, n: a.numClasses, k: d) : nil
      outputWidth = a.numClasses
    } else {
      head = nil
      headDist = nil
      outputWidth = d
    }
  }
}
