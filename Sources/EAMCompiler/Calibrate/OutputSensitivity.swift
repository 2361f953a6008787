import EAMFormat
import EAMKernels
import EAMRuntime

/// What a change of each attention entry costs the model's output, measured on calibration
/// images: the weight of the `weighted-entropy` criterion (docs/METHOD.md).
///
/// Freezing entry (i, j) of head h at c, the free entries of row i renormalised, moves the head's
/// output row by about (c − a_ij)·(v_j − ō_i), with ō_i = Σ_j a_ij v_j, and the block's residual
/// stream by γ ⊙ W_o,h times that (W_o,h: the head's columns of the output projection, γ: the
/// layer scale). Two measured factors make an entry's sensitivity:
/// - `local`, per entry: E‖γ ⊙ W_o,h (v_j − ō_i)‖² over the images;
/// - `reach`, per block and row group (prefix rows: class and register tokens; patch rows): the
///   output error (1 − cosine) with `probeFraction` of the group's entries frozen, lowest
///   predicted cost E[(a − c)²]·local first, divided by that predicted cost. It carries what the
///   later blocks do to a block's change; rows the output never reads measure 0.
enum OutputSensitivity {
  /// Fraction of a row group frozen to measure its reach: large enough to stand above the
  /// float noise of the cosine, small enough to stay in the near-linear regime.
  static let probeFraction = 0.3

  /// Measured reach of one block's row groups (prefix rows, patch rows).
  struct Reach: Sendable { var prefix: Double; var patch: Double }

  /// `statistics` with `sensitivity` filled in for every head (`local × reach`).
  static func measure(_ statistics: [[HeadEntryStatistics]?], model: ModelDescription, options: EAMOptions,
                      context: PassContext, images: [String]) throws(CompileError) -> (statistics: [[HeadEntryStatistics]?], reach: [Reach?])
  {
    // Per entry: a Double sum, a Float mean and a Float sensitivity, on top of the statistics.
    let entries = statistics.reduce(0) { n, heads in n + (heads?.reduce(0) { $0 + $1.tokens * $1.tokens } ?? 0) }
    let (needed, overflow) = entries.multipliedReportingOverflow(by: 16)
    let budget = context.options.calibration.memoryBudget ?? MemoryBudget.defaultBudget().bytes
    guard !overflow, needed <= budget else {
      throw CompileError("\(context.source): measuring the output sensitivity of \(entries) attention entries needs \(overflow ? "more than \(Int.max) bytes" : MemoryBudget.text(needed)), over the memory budget of \(MemoryBudget.text(budget)) (--memory-budget; or --select entropy, which measures nothing)")
    }
    // The model as it comes to EAM (earlier passes applied): costs are marginal to it.
    let current = try Evaluation.model(of: model, name: "model", threads: context.options.threads, source: context.source)
    let local = try localWeights(model, floatModel: current, images: images, blocks: statistics.map { $0 != nil })
    let probe = try ProbeImages(Array(images.prefix(EntropyResolution.images)), preprocessing: model.preprocessing)
    let reference = try probe.outputs(current)
    let prefix = model.architecture.prefixTokens
    var reach: [Reach?] = statistics.map { _ in nil }
    let progress = Progress("measuring how far each block reaches", total: 2 * statistics.compactMap { $0 }.count, unit: "probes")
    for (l, heads) in statistics.enumerated() {
      guard let heads, let weights = local[l] else { continue }
      let t = heads[0].tokens
      // Predicted cost per entry, and the entries of each row group.
      let cost = heads.indices.map { h in zip(heads[h].squaredError(options.frozenValue), weights[h]).map { Double($0) * Double($1) } }
      func groupReach(_ rows: Range<Int>) throws(CompileError) -> Double {
        guard !rows.isEmpty else { progress.advance(); return 0 }
        func error(_ fraction: Double) throws(CompileError) -> (Double, Double) {
          var entries: [(cost: Double, head: Int, entry: Int)] = []
          for h in heads.indices where !model.blocks[l].hallucinated.contains(where: { $0.head == h }) {
            for i in rows { for j in 0..<t { entries.append((cost[h][i * t + j], h, i * t + j)) } }
          }
          entries.sort { ($0.cost, $0.head, $0.entry) < ($1.cost, $1.head, $1.entry) }
          let count = Int((Double(entries.count) * fraction).rounded())
          guard count > 0 else { return (0, 0) }
          var chosen: [Int: [Int32]] = [:]
          var predicted = 0.0
          for e in entries.prefix(count) {
            chosen[l * 65536 + e.head, default: []].append(Int32(e.entry))
            predicted += e.cost
          }
          let frozen = EAMPass.freeze(model, statistics: statistics, chosen: chosen, options: options)
          let m = try Evaluation.model(of: frozen, name: "sensitivity probe", threads: context.options.threads, source: context.source)
          let f = Fidelity.compare(try probe.outputs(m), reference: reference,
                                   width: current.outputWidth, classifier: false)
          return (1 - f.meanCosine, predicted)
        }
        // Below 1e-9 the cosine cannot tell a change from rounding; freezing every entry of the
        // group then says whether the output reads these rows at all.
        var (measured, predicted) = try error(probeFraction)
        if measured <= 1e-9 { (measured, predicted) = try error(1) }
        progress.advance()
        return measured > 1e-9 && predicted > 0 ? measured / predicted : 0
      }
      reach[l] = Reach(prefix: try groupReach(0..<min(prefix, t)), patch: try groupReach(min(prefix, t)..<t))
    }
    progress.finish()
    var result = statistics
    for (l, r) in reach.enumerated() {
      guard let r, var heads = result[l], let weights = local[l] else { continue }
      let t = heads[0].tokens
      for h in heads.indices {
        var s = [Float](repeating: 0, count: t * t)
        for i in 0..<t {
          let g = i < prefix ? r.prefix : r.patch
          for j in 0..<t { s[i * t + j] = Float(g * Double(weights[h][i * t + j])) }
        }
        heads[h].sensitivity = s
      }
      result[l] = heads
    }
    return (result, reach)
  }

  /// `local` of every entry of every head of the `blocks` marked true: the images one at a time
  /// through `floatModel`, so that each (block, head) is handled by one thread per image and
  /// its sums are added in image order (the same on any thread count).
  static func localWeights(_ model: ModelDescription, floatModel: Model, images: [String], blocks: [Bool])
    throws(CompileError) -> [[[Float]]?]
  {
    let sums = LocalSums(model, blocks: blocks)
    floatModel.attentionObserver = { block, _, head, map, tokens, values, stride in
      sums.add(block: block, head: head, map: map, tokens: tokens, values: values, stride: stride)
    }
    defer { floatModel.attentionObserver = nil }
    let progress = Progress("measuring output sensitivity", total: images.count)
    for image in images {
      _ = try Evaluation.outputs(floatModel, images: [image], batch: 1)
      progress.advance()
    }
    progress.finish()
    return sums.means(images: images.count)
  }
}

/// Σ over images of ‖γ ⊙ W_o,h (v_j − ō_i)‖² per entry, for `OutputSensitivity.localWeights`.
/// With K_h = (γ ⊙ W_o,h)ᵀ(γ ⊙ W_o,h) (head dim²): w_ij = v_jᵀK v_j + ō_iᵀK ō_i − 2 ō_iᵀK v_j.
private final class LocalSums: @unchecked Sendable {
  let tokens: Int, headDim: Int, mostHeads: Int
  /// K_h per (block, head), nil for blocks not measured.
  let gram: [[[Float]]?]
  /// Per (block, head): Σ w per entry. Written by one thread per (block, head) at a time.
  let sums: [[UnsafeMutablePointer<Double>]?]
  /// Per head slot: scratch for ō, V·K, ō·K (tokens × head dim each) and the products (tokens²).
  let scratch: [UnsafeMutablePointer<Float>]

  init(_ model: ModelDescription, blocks: [Bool]) {
    tokens = model.tokens
    let first = model.blocks.first
    headDim = first.map { $0.dim / max(1, $0.heads) } ?? 0
    mostHeads = model.blocks.map(\.heads).max() ?? 0
    let t = tokens, hd = headDim
    gram = model.blocks.map { b -> [[Float]]? in
      guard blocks.indices.contains(b.index), blocks[b.index], let w = model.weights[ViTSections.Block(b.index).proj.weight]?.values
      else { return nil }
      let d = b.dim, gamma = model.weights["blocks.\(b.index).ls1.gamma"]?.values ?? [Float](repeating: 1, count: d)
      return (0..<b.heads).map { h in
        var k = [Float](repeating: 0, count: hd * hd)
        for c in 0..<d {
          let g2 = Double(gamma[c]) * Double(gamma[c])
          let row = c * d + h * hd
          for a in 0..<hd { for b2 in 0..<hd { k[a * hd + b2] += Float(g2 * Double(w[row + a]) * Double(w[row + b2])) } }
        }
        return k
      }
    }
    sums = gram.map { g in g.map { heads in heads.map { _ in
      let p = UnsafeMutablePointer<Double>.allocate(capacity: t * t)
      p.initialize(repeating: 0, count: t * t)
      return p
    } } }
    scratch = (0..<mostHeads).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: 3 * t * hd + t * t) }
  }

  deinit {
    for heads in sums { heads?.forEach { $0.deallocate() } }
    scratch.forEach { $0.deallocate() }
  }

  func add(block: Int, head: Int, map: UnsafePointer<Float>, tokens t: Int, values v: UnsafePointer<Float>, stride: Int) {
    guard t == tokens, gram.indices.contains(block), let k = gram[block]?[head], let sum = sums[block]?[head] else { return }
    let hd = headDim
    let o = scratch[head], vk = o + t * hd, ok = vk + t * hd, c = ok + t * hd
    k.withUnsafeBufferPointer { k in
      Kernels.gemmNN(m: t, n: hd, k: t, a: map, lda: t, b: v, ldb: stride, c: o, ldc: hd)
      Kernels.gemmNN(m: t, n: hd, k: hd, a: v, lda: stride, b: k.baseAddress!, ldb: hd, c: vk, ldc: hd)
      Kernels.gemmNN(m: t, n: hd, k: hd, a: o, lda: hd, b: k.baseAddress!, ldb: hd, c: ok, ldc: hd)
    }
    Kernels.gemmNT(m: t, n: t, k: hd, alpha: 1, a: o, lda: hd, b: vk, ldb: hd, c: c, ldc: t)
    // v_jᵀK v_j per key, then w_ij per entry.
    var keyNorm = [Float](repeating: 0, count: t)
    for j in 0..<t {
      var s: Float = 0
      for a in 0..<hd { s += v[j * stride + a] * vk[j * hd + a] }
      keyNorm[j] = s
    }
    for i in 0..<t {
      var rowNorm: Float = 0
      for a in 0..<hd { rowNorm += o[i * hd + a] * ok[i * hd + a] }
      let out = sum + i * t, products = c + i * t
      for j in 0..<t { out[j] += Double(max(0, keyNorm[j] + rowNorm - 2 * products[j])) }
    }
  }

  /// The sums divided by the image count, as Float, per block and head.
  func means(images: Int) -> [[[Float]]?] {
    let n = Double(max(1, images)), count = tokens * tokens
    return sums.map { heads in heads.map { $0.map { p in (0..<count).map { Float(p[$0] / n) } } } }
  }
}

/// Images decoded once, 8 to a batch, for the many probe runs of `OutputSensitivity.measure`.
private struct ProbeImages {
  var batches: [(input: [Float], count: Int)] = []

  init(_ images: [String], preprocessing: Manifest.Preprocessing) throws(CompileError) {
    var i = 0
    while i < images.count {
      let chunk = Array(images[i..<min(images.count, i + 8)])
      batches.append((try ImageInput.batch(paths: chunk, preprocessing: preprocessing), chunk.count))
      i += chunk.count
    }
  }

  func outputs(_ model: Model) throws(CompileError) -> [Float] {
    var out: [Float] = []
    for b in batches {
      do throws(RuntimeError) { out += try model.run(b.input, batch: b.count) } catch { throw CompileError(error.description) }
    }
    return out
  }
}
