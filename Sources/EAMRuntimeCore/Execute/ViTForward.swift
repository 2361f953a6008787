import EAMFormat
import EAMKernels

/// The forward pass of the ViT family (ViT, DeiT, distilled DeiT, DINOv2, lambda_vit shrink).
struct ViTForward {
  let plan: ViTPlan
  /// Where attention time goes, when benchmarking.
  var probe: AttentionProbe? = nil

  func run(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, arena: Arena,
           pool: ThreadPool, observer: AttentionObserver?, blockObserver: BlockObserver? = nil,
           sublayerObserver: SublayerObserver? = nil, linearInputObserver: LinearInputObserver? = nil)
  {
    let a = plan.architecture
    let d = plan.dim, t = plan.tokens, rows = batch * t
    let x = arena.x.pointer, normed = arena.normed.pointer, wide = arena.wide.pointer
    let eps = a.normEps, prefix = a.prefixTokens, side = a.imageSize, c = a.inChannels

    // Embedding: patches as a GEMM, prefix tokens, position embedding.
    for b in 0..<batch {
      let base = x + b * t * d
      embedPatches(pool, image: input + b * c * side * side, channels: c, side: side, patch: a.patchSize,
                   plan.patchEmbed, patches: arena.patches.pointer, output: base + prefix * d, ldy: d,
                   observer: linearInputObserver.map { o in { o(-1, .patchEmbed, $0, $1, $2, $2) } })
      var r = 0
      if let cls = plan.classToken { (base + r * d).update(from: cls, count: d); r += 1 }
      if let dist = plan.distToken { (base + r * d).update(from: dist, count: d); r += 1 }
      if let reg = plan.regTokens { (base + r * d).update(from: reg, count: a.registerTokens * d); r += a.registerTokens }
      if a.posEmbedCoversPrefix {
        Kernels.add(base, plan.posEmbed, count: t * d)
      } else {
        Kernels.add(base + prefix * d, plan.posEmbed, count: plan.patchTokens * d)
      }
    }

    // The blocks run split by rows, all in one parallel step, when they can (`BlocksByRows`);
    // else block by block, the int8 layers as chains (`Int8RowChain`: a block's proj and MLP half
    // and the next block's qkv in one parallel step) unless an observer must see the stream in
    // between.
    var qkvDone = false, qkvStride = 0
    let observed = observer != nil || blockObserver != nil || sublayerObserver != nil || linearInputObserver != nil
    let together = BlocksByRows(plan: plan), inOneStep = together.applies(observed: observed)
    if inOneStep { together.run(pool, rows: rows, eps: eps, arena: arena, barrier: arena.barrier, probe: probe) }
    for (i, block) in (inOneStep ? [] : plan.blocks).enumerated() {
      sublayerObserver?(block.index, false, x, rows, d)
      if let attn = block.attention {
        if qkvDone {
          qkvDone = false
        } else if linearInputObserver == nil, Int8RowChain.takes(attn.qkv) {
          qkvStride = attn.layout.width
          Int8RowChain(qkv: (attn.norm, attn.qkv, qkvStride))
            .run(pool, x: x, normed: normed, wide: wide, rows: rows, dim: d, eps: eps)
        } else {
          qkvStride = attn.layout.width
          layerNorm(pool, x, normed, rows: rows, dim: d, attn.norm, eps: eps)
          linearInputObserver?(block.index, .qkv, normed, rows, d, d)
          linear(pool, rows: rows, x: normed, ldx: d, attn.qkv, y: wide, ldy: attn.layout.width, epilogue: .bias)
        }
        attention(pool, attn, qkv: wide, ld: qkvStride, out: normed, batch: batch, block: block.index, arena: arena,
                  observer: observer)
        linearInputObserver?(block.index, .proj, normed, rows, attn.proj.k, d)
        if sublayerObserver == nil, linearInputObserver == nil, Int8RowChain.takes(attn.proj), Int8RowChain.takes(block.mlp) {
          var chain = Int8RowChain(proj: (normed, attn.proj), mlp: block.mlp)
          if blockObserver == nil, i + 1 < plan.blocks.count, let next = plan.blocks[i + 1].attention,
             Int8RowChain.takes(next.qkv)
          {
            chain.qkv = (next.norm, next.qkv, next.layout.width)
            qkvStride = chain.wideStride
            qkvDone = true
          }
          chain.run(pool, x: x, normed: normed, wide: wide, rows: rows, dim: d, eps: eps)
          blockObserver?(block.index, x, rows, d)
          continue
        }
        linear(pool, rows: rows, x: normed, ldx: d, attn.proj, y: x, ldy: d, epilogue: .biasAccumulate)
      } else if block.residual == .double {
        Kernels.add(x, x, count: rows * d)  // lambda_vit's Block_shrink: x = x + x
      }
      sublayerObserver?(block.index, true, x, rows, d)
      if linearInputObserver == nil, Int8RowChain.takes(block.mlp) {
        Int8RowChain(mlp: block.mlp).run(pool, x: x, normed: normed, wide: wide, rows: rows, dim: d, eps: eps)
      } else {
        mlp(pool, block.mlp, x: x, normed: normed, wide: wide, rows: rows, dim: d, eps: eps,
            observer: linearInputObserver.map { o in { o(block.index, $0, $1, $2, $3, $4) } })
      }
      blockObserver?(block.index, x, rows, d)
    }

    // Head: final norm, pooling, classifier(s).
    let pooled = arena.pooled.pointer
    if let norm = plan.finalNorm { layerNorm(pool, x, normed, rows: rows, dim: d, norm, eps: eps) }
    let source = plan.finalNorm != nil ? normed : x
    if a.pooling == .classToken {
      for b in 0..<batch { (pooled + b * d).update(from: source + b * t * d, count: d) }
    } else {
      meanPool(source, batch: batch, tokens: t, first: prefix, dim: d, into: pooled)
    }
    if let fc = plan.fcNorm { Kernels.layerNorm(x: pooled, ldx: d, y: pooled, ldy: d, rows: batch, dim: d, gamma: fc.gamma, beta: fc.beta, eps: eps) }
    guard let head = plan.head else {
      output.update(from: pooled, count: batch * d)
      return
    }
    let classes = head.n
    linear(pool, rows: batch, x: pooled, ldx: d, head, y: output, ldy: classes, epilogue: .bias)
    if let headDist = plan.headDist {
      // Distilled DeiT in eval mode: the mean of the class-token head and the distillation head.
      for b in 0..<batch { (pooled + b * d).update(from: source + (b * t + 1) * d, count: d) }
      let second = arena.logits.pointer
      linear(pool, rows: batch, x: pooled, ldx: d, headDist, y: second, ldy: classes, epilogue: .bias)
      for i in 0..<(batch * classes) { output[i] = (output[i] + second[i]) * 0.5 }
    }
  }

  /// Multi-head self-attention for every image and head (`HeadAttention`), (image, head) pairs
  /// split across the pool; `qkv`'s rows `ld` floats apart.
  private func attention(_ pool: ThreadPool, _ attn: AttentionPlan, qkv: UnsafeMutablePointer<Float>, ld: Int,
                         out: UnsafeMutablePointer<Float>, batch: Int, block: Int, arena: Arena,
                         observer: AttentionObserver?)
  {
    if attn.hasHallucinated {
      hallucinatedAttention(pool, attn, qkv: qkv, ld: ld, out: out, batch: batch, block: block, arena: arena, observer: observer)
      return
    }
    let pairs = batch * attn.heads
    let workers = min(pool.threadCount, pairs)
    pool.attentionStep(workers, probe: probe,
                       HeadPairs(plan: plan, attn: attn, qkv: qkv, ld: ld, out: out, block: block, arena: arena,
                                 observer: observer, probe: probe, pairs: pairs, workers: workers))
  }

  /// Worker `w` of `attention` (and of `BlocksByRows`): its share of the (image, head) pairs.
  struct HeadPairs: ParallelBody {
    let plan: ViTPlan, attn: AttentionPlan
    let qkv: UnsafeMutablePointer<Float>, ld: Int, out: UnsafeMutablePointer<Float>
    let block: Int, arena: Arena, observer: AttentionObserver?, probe: AttentionProbe?
    let pairs: Int, workers: Int

    func run(_ w: Int) {
      let d = plan.dim, t = plan.tokens, heads = attn.heads, hd = d / heads
      let scale = 1 / Float(hd).squareRoot()
      let scores = arena.scores[w].pointer
      let marks = PhaseMarks(probe, thread: w)
      for pair in (w * pairs / workers)..<((w + 1) * pairs / workers) {
        let b = pair / heads, h = pair % heads
        let base = qkv + b * t * ld
        var head = HeadAttention(tokens: t, headDim: hd, scale: scale)
        head.frozen = attn.frozen[h]
        if plan.fusedAttention, !arena.fused.isEmpty { head.fusedScratch = arena.fused[w].pointer }
        let q = attn.layout.q[h].map { base + $0 } ?? base, k = attn.layout.k[h].map { base + $0 } ?? base
        let block = block
        head.run(q: q, k: k, v: base + attn.layout.v[h], ld: ld, out: out + b * t * d + h * hd, ldo: d,
                 scores: scores, marks: marks,
                 observe: observer.map { o in { map in o(block, b, h, map, t, base + attn.layout.v[h], ld) } })
      }
    }
  }

  /// A block with hallucinated heads, image by image: the computed heads first (unfused, their
  /// maps kept in `arena.maps`), then each hallucinated head's map made from theirs and
  /// multiplied with its own V.
  private func hallucinatedAttention(_ pool: ThreadPool, _ attn: AttentionPlan, qkv: UnsafeMutablePointer<Float>, ld: Int,
                                     out: UnsafeMutablePointer<Float>, batch: Int, block: Int, arena: Arena,
                                     observer: AttentionObserver?)
  {
    let computed = attn.computedHeads.count, made = attn.madeHeads.count
    for b in 0..<batch {
      let job = HallucinatedHeads(plan: plan, attn: attn, qkv: qkv, ld: ld, out: out, image: b, block: block, arena: arena,
                                  observer: observer, probe: probe, made: false, workers: min(pool.threadCount, computed))
      pool.attentionStep(job.workers, probe: probe, job)
      var second = job
      second.made = true
      second.workers = min(pool.threadCount, made)
      pool.attentionStep(second.workers, probe: probe, second)
    }
  }

  /// Worker `w` of `hallucinatedAttention` for one image: its share of the computed heads (their
  /// maps kept in `arena.maps`), or of the made ones (a map from those, times its own V).
  private struct HallucinatedHeads: ParallelBody {
    let plan: ViTPlan, attn: AttentionPlan
    let qkv: UnsafeMutablePointer<Float>, ld: Int, out: UnsafeMutablePointer<Float>
    let image: Int, block: Int, arena: Arena, observer: AttentionObserver?, probe: AttentionProbe?
    var made: Bool, workers: Int

    func run(_ w: Int) {
      let d = plan.dim, t = plan.tokens, heads = attn.heads, hd = d / heads
      let scale = 1 / Float(hd).squareRoot()
      let maps = arena.maps.pointer
      let b = image, block = block
      let base = qkv + b * t * ld
      let marks = PhaseMarks(probe, thread: w)
      let list = made ? attn.madeHeads : attn.computedHeads
      for i in (w * list.count / workers)..<((w + 1) * list.count / workers) {
        let h = list[i]
        if !made {
          var head = HeadAttention(tokens: t, headDim: hd, scale: scale)
          head.frozen = attn.frozen[h]
          let q = attn.layout.q[h].map { base + $0 } ?? base, k = attn.layout.k[h].map { base + $0 } ?? base
          head.run(q: q, k: k, v: base + attn.layout.v[h], ld: ld, out: out + b * t * d + h * hd, ldo: d,
                   scores: arena.scores[w].pointer, marks: marks,
                   observe: observer.map { o in { map in o(block, b, h, map, t, base + attn.layout.v[h], ld) } },
                   keep: maps + h * t * t)
          continue
        }
        let plan = attn.hallucinated[h]!
        let map = arena.scores[w].pointer
        plan.sources.withUnsafeBufferPointer { s in
          plan.weights.withUnsafeBufferPointer { w in
            Kernels.hallucinateMap(into: map, tokens: t, maps: maps, sources: s.baseAddress!, weights: w.baseAddress!,
                                   count: s.count, intercept: plan.intercept)
          }
        }
        marks.lap(.softmax)
        observer?(block, b, h, map, t, base + attn.layout.v[h], ld)
        marks.restart()
        Kernels.gemmNN(m: t, n: hd, k: t, a: map, lda: t, b: base + attn.layout.v[h], ldb: ld, c: out + b * t * d + h * hd, ldc: d)
        marks.lap(.output)
      }
    }
  }
}
