import EAMFormat
import EAMRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `eamc analyze`: what the entropy-guided passes would find in a checkpoint, measured on images,
/// with nothing written.
///
/// Per block: the entropy of its attention half's output and of its MLP half's output (the
/// criterion of "MLP Can Be A Good Transformer Learner", CVPR 2024: an attention layer whose
/// output carries little information next to its MLP's is a candidate for removal), and what
/// removing its attention alone costs (output cosine to the float model). Per head: the mean
/// Shannon entropy of its attention rows, and how much of its map the other heads of the layer
/// explain (R² of a least-squares fit with intercept: the redundancy hallucinated heads exploit).
public struct Analysis: Sendable {
  public struct Block: Sendable {
    public var index: Int
    /// Gaussian entropy of the half's output, nats per channel: the mean over channels of
    /// ½·log(2πe·σ²), σ² over every token of every image.
    public var attentionEntropy: Double
    public var mlpEntropy: Double
    /// Removing this block's attention alone, per mode.
    public var removal: [(AttentionRemovalOptions.Mode, Fidelity)]
  }

  public struct Head: Sendable {
    public var block: Int
    public var head: Int
    /// Mean Shannon entropy (nats) of the head's attention rows.
    public var entropy: Double
    /// Fraction of the map's variance that the layer's other heads explain linearly.
    public var explained: Double
  }

  public var blocks: [Block] = []
  public var heads: [Head] = []
  public var images = 0
  /// Where the removal costs were measured: "calibration" or "held-out".
  public var costImages = ""
  public var costImageCount = 0

  /// Blocks ordered for removal: cheapest `lambda` removal first.
  public var removalRanking: [Int] {
    blocks.sorted { a, b in
      let x = a.removal.first?.1.meanCosine ?? 0, y = b.removal.first?.1.meanCosine ?? 0
      return x != y ? x > y : a.index < b.index
    }.map(\.index)
  }

  /// Heads ordered for hallucination: most explained by the others first.
  public var hallucinationRanking: [(Int, Int)] {
    heads.sorted { $0.explained != $1.explained ? $0.explained > $1.explained : ($0.block, $0.head) < ($1.block, $1.head) }
      .map { ($0.block, $0.head) }
  }

  /// Measures `model` (recognised from `source`) on `images`; removal costs on `evalImages`
  /// when given (held-out), else on the same images.
  public static func run(_ model: ModelDescription, source: String, images: [String], evalImages: [String], threads: Int?)
    throws(CompileError) -> Analysis
  {
    guard model.architecture.family != .swin else {
      throw CompileError("\(source): eamc analyze is for ViT-family models (Swin's window attention has no removal or hallucination pass yet)")
    }
    guard !images.isEmpty else { throw CompileError("no images to analyze on") }
    let float = try Evaluation.model(of: model, name: source, threads: threads, source: source)
    var result = Analysis()
    result.images = images.count
    let statistics = Observed(model)
    float.sublayerObserver = { block, beforeMLP, hidden, rows, dim in statistics.sublayer(block, beforeMLP, hidden, rows, dim) }
    float.blockObserver = { block, hidden, rows, dim in statistics.blockEnd(block, hidden, rows, dim) }
    float.attentionObserver = { block, _, head, map, tokens, _, _ in statistics.map(block, head, map, tokens) }
    let progress = Progress("analyzing entropy", total: images.count)
    do throws(CompileError) {
      for image in images {
        // One image at a time: each head's map then arrives from one thread, and a layer's maps
        // are complete when the stream reaches its MLP half.
        _ = try Evaluation.outputs(float, images: [image], batch: 1)
        progress.advance()
      }
    } catch {
      float.sublayerObserver = nil; float.blockObserver = nil; float.attentionObserver = nil
      throw error
    }
    progress.finish()
    float.sublayerObserver = nil
    float.blockObserver = nil
    float.attentionObserver = nil

    let costImages = evalImages.isEmpty ? images : evalImages
    result.costImages = evalImages.isEmpty ? "calibration" : "held-out"
    result.costImageCount = costImages.count
    var removal: [Int: [(AttentionRemovalOptions.Mode, Fidelity)]] = [:]
    let reference = try Evaluation.outputs(float, images: costImages)
    for mode in AttentionRemovalOptions.Mode.allCases {
      for c in try RemovalCost.rank(model, mode: mode, images: costImages, reference: float, referenceOutputs: reference,
                                    threads: threads, source: source) {
        removal[c.block, default: []].append((mode, c.fidelity))
      }
    }
    for b in model.blocks where !b.attentionRemoved {
      result.blocks.append(Block(index: b.index, attentionEntropy: statistics.attention[b.index].entropy,
                                 mlpEntropy: statistics.mlp[b.index].entropy, removal: removal[b.index] ?? []))
      for h in 0..<b.heads {
        result.heads.append(Head(block: b.index, head: h, entropy: statistics.rowEntropy(b.index, h),
                                 explained: statistics.gram[b.index].explained(h, from: (0..<b.heads).filter { $0 != h })))
      }
    }
    return result
  }
}

/// What one analysis pass gathers from the observers (single image per run; see `Analysis.run`).
private final class Observed: @unchecked Sendable {
  /// Per channel sums over tokens, for a Gaussian entropy.
  struct Moments {
    var sum: [Double], square: [Double], count = 0
    init(_ d: Int) { sum = .init(repeating: 0, count: d); square = .init(repeating: 0, count: d) }

    mutating func add(_ a: UnsafePointer<Float>, minus b: [Float], rows: Int, dim: Int) {
      for r in 0..<rows {
        for c in 0..<dim {
          let v = Double(a[r * dim + c]) - Double(b[r * dim + c])
          sum[c] += v
          square[c] += v * v
        }
      }
      count += rows
    }

    var entropy: Double {
      guard count > 1 else { return 0 }
      var total = 0.0
      for c in sum.indices {
        let mean = sum[c] / Double(count)
        let variance = max(square[c] / Double(count) - mean * mean, 1e-30)
        total += 0.5 * log(2 * Double.pi * M_E * variance)
      }
      return total / Double(sum.count)
    }
  }

  let dims: [Int], heads: [Int], tokens: Int
  var attention: [Moments], mlp: [Moments]
  var gram: [HeadMapGram]
  var input: [Float] = [], middle: [Float] = []
  // Written from the pool's threads, one head per thread: fixed slots, never reallocated.
  /// The current layer's maps, one `tokens²` slot per head.
  let maps: UnsafeMutablePointer<Float>
  let mapSeen: UnsafeMutablePointer<Bool>
  /// Per (block, head), at `block · mostHeads + head`: Σ row entropy and rows.
  let entropySum: UnsafeMutablePointer<Double>
  let entropyRows: UnsafeMutablePointer<Int>
  let mostHeads: Int

  init(_ m: ModelDescription) {
    dims = m.blocks.map(\.dim)
    heads = m.blocks.map(\.heads)
    tokens = m.tokens
    attention = dims.map { Moments($0) }
    mlp = dims.map { Moments($0) }
    gram = heads.map { HeadMapGram(heads: $0) }
    mostHeads = heads.max() ?? 0
    maps = .allocate(capacity: max(1, mostHeads * m.tokens * m.tokens))
    mapSeen = .allocate(capacity: max(1, mostHeads))
    mapSeen.initialize(repeating: false, count: max(1, mostHeads))
    entropySum = .allocate(capacity: max(1, heads.count * mostHeads))
    entropySum.initialize(repeating: 0, count: max(1, heads.count * mostHeads))
    entropyRows = .allocate(capacity: max(1, heads.count * mostHeads))
    entropyRows.initialize(repeating: 0, count: max(1, heads.count * mostHeads))
  }

  deinit {
    maps.deallocate()
    mapSeen.deallocate()
    entropySum.deallocate()
    entropyRows.deallocate()
  }

  /// Mean row entropy of (block, head).
  func rowEntropy(_ block: Int, _ head: Int) -> Double {
    let i = block * mostHeads + head
    return entropyRows[i] > 0 ? entropySum[i] / Double(entropyRows[i]) : 0
  }

  func sublayer(_ block: Int, _ beforeMLP: Bool, _ x: UnsafePointer<Float>, _ rows: Int, _ dim: Int) {
    if !beforeMLP {
      input = Array(UnsafeBufferPointer(start: x, count: rows * dim))
      for h in 0..<mostHeads { mapSeen[h] = false }
      return
    }
    attention[block].add(x, minus: input, rows: rows, dim: dim)
    middle = Array(UnsafeBufferPointer(start: x, count: rows * dim))
    // The layer's maps are all in: fold their products.
    let n = heads[block]
    guard (0..<n).allSatisfy({ mapSeen[$0] }) else { return }
    gram[block].add(maps, entries: tokens * tokens)
  }

  func blockEnd(_ block: Int, _ x: UnsafePointer<Float>, _ rows: Int, _ dim: Int) {
    guard middle.count == rows * dim else { return }
    mlp[block].add(x, minus: middle, rows: rows, dim: dim)
  }

  func map(_ block: Int, _ head: Int, _ map: UnsafePointer<Float>, _ t: Int) {
    guard t == tokens, head < mostHeads, block < heads.count else { return }
    var total = 0.0
    for r in 0..<t {
      var h = 0.0
      for c in 0..<t {
        let p = Double(map[r * t + c])
        if p > 0 { h -= p * log(p) }
      }
      total += h
    }
    entropySum[block * mostHeads + head] += total
    entropyRows[block * mostHeads + head] += t
    (maps + head * t * t).update(from: map, count: t * t)
    mapSeen[head] = true
  }
}


extension Analysis {
  private static func fixed(_ x: Double, _ digits: Int) -> String {
    let scale = pow(10, Double(digits))
    let v = (x * scale).rounded() / scale
    var s = "\(v)"
    if let dot = s.firstIndex(of: ".") {
      let have = s.distance(from: dot, to: s.endIndex) - 1
      if have < digits { s += String(repeating: "0", count: digits - have) }
    }
    return s
  }

  /// The analysis as a table per block, per head, and the two rankings.
  public var lines: [String] {
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    var out = ["analysis on \(images) images; removal costs on \(costImageCount) \(costImages) images (output cosine to the float model, mean / worst)"]
    out.append("  " + pad("block", 7) + pad("H(attn out)", 13) + pad("H(MLP out)", 12) + pad("attn − MLP", 12)
               + pad("remove (lambda)", 21) + "remove (skip)")
    for b in blocks {
      func cost(_ mode: AttentionRemovalOptions.Mode) -> String {
        guard let f = b.removal.first(where: { $0.0 == mode })?.1 else { return "–" }
        return Self.fixed(f.meanCosine, 5) + " / " + Self.fixed(f.minCosine, 4)
      }
      out.append("  " + pad("\(b.index)", 7) + pad(Self.fixed(b.attentionEntropy, 3), 13) + pad(Self.fixed(b.mlpEntropy, 3), 12)
                 + pad(Self.fixed(b.attentionEntropy - b.mlpEntropy, 3), 12) + pad(cost(.lambda), 21) + cost(.skip))
    }
    out.append("  H: Gaussian entropy of the half's output, nats per channel (low attention entropy next to its MLP's marks a removal candidate)")
    out.append("heads (mean row entropy of the attention map in nats; R²: how much of the map the layer's other heads explain)")
    var byBlock: [Int: [Head]] = [:]
    for h in heads { byBlock[h.block, default: []].append(h) }
    for b in blocks {
      let hs = byBlock[b.index] ?? []
      out.append("  block \(pad("\(b.index)", 3)) entropy " + hs.map { Self.fixed($0.entropy, 2) }.joined(separator: " ")
                 + "   R² " + hs.map { Self.fixed($0.explained, 3) }.joined(separator: " "))
    }
    out.append("blocks for attention removal, cheapest first (lambda): " + removalRanking.map(String.init).joined(separator: ", "))
    out.append("heads for hallucination, most explained first: "
               + hallucinationRanking.prefix(12).map { "\($0.0).\($0.1)" }.joined(separator: ", ")
               + (heads.count > 12 ? ", …" : ""))
    return out
  }

  public var json: JSON {
    .object([
      ("images", .int(images)), ("cost_images", .string(costImages)), ("cost_image_count", .int(costImageCount)),
      ("blocks", .array(blocks.map { b in
        .object([("block", .int(b.index)), ("attention_output_entropy", .number(b.attentionEntropy)),
                 ("mlp_output_entropy", .number(b.mlpEntropy)),
                 ("removal", .object(b.removal.map { ($0.0.rawValue, $0.1.json) }))])
      })),
      ("heads", .array(heads.map { h in
        .object([("block", .int(h.block)), ("head", .int(h.head)), ("entropy", .number(h.entropy)),
                 ("explained_by_other_heads", .number(h.explained))])
      })),
      ("removal_ranking", .array(removalRanking.map { .int($0) })),
      ("hallucination_ranking", .array(hallucinationRanking.map { .array([.int($0.0), .int($0.1)]) })),
    ])
  }
}
