import EAMKernels

/// Sees every attention map the forward pass computes (after softmax): the calibration hook.
/// Called concurrently from the pool's threads, for different (image, head) pairs.
/// Swin: one call per window with its `w² × w²` map (`tokens` = w²); the windows of one
/// (block, image, head) come in sequence, in window order (row-major over the shifted grid),
/// from one thread.
public typealias AttentionObserver = (_ block: Int, _ image: Int, _ head: Int, _ map: UnsafePointer<Float>, _ tokens: Int) -> Void

/// Sees the residual stream after every block: `rows` = batch × tokens rows of `dim` values, image
/// after image. Called from the calling thread between blocks (per-layer error of a compressed
/// model against the float one).
public typealias BlockObserver = (_ block: Int, _ hidden: UnsafePointer<Float>, _ rows: Int, _ dim: Int) -> Void

/// The forward pass of the ViT family (ViT, DeiT, distilled DeiT, DINOv2, lambda_vit shrink).
struct ViTForward {
  let plan: ViTPlan
  /// Where attention time goes, when benchmarking.
  var timing: AttentionTiming? = nil

  func run(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, arena: Arena,
           pool: ThreadPool, observer: AttentionObserver?, blockObserver: BlockObserver? = nil)
  {
    let a = plan.architecture
    let d = plan.dim, t = plan.tokens, rows = batch * t
    let x = arena.x.pointer, normed = arena.normed.pointer, wide = arena.wide.pointer
    let eps = a.normEps

    // Embedding: patches as a GEMM, prefix tokens, position embedding.
    let p = a.patchSize, c = a.inChannels, side = a.imageSize, g = plan.grid
    let k = c * p * p, prefix = a.prefixTokens
    for b in 0..<batch {
      let image = input + b * c * side * side
      let patches = arena.patches.pointer
      for gy in 0..<g {
        for gx in 0..<g {
          let row = patches + (gy * g + gx) * k
          for ch in 0..<c {
            for yy in 0..<p {
              let src = image + ch * side * side + (gy * p + yy) * side + gx * p
              let dst = row + ch * p * p + yy * p
              dst.update(from: src, count: p)
            }
          }
        }
      }
      let base = x + b * t * d
      linear(pool, rows: plan.patchTokens, x: patches, ldx: k, plan.patchEmbed, y: base + prefix * d, ldy: d,
             epilogue: .bias)
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

    for block in plan.blocks {
      if let attn = block.attention {
        layerNorm(pool, x, normed, rows: rows, dim: d, attn.norm, eps: eps)
        linear(pool, rows: rows, x: normed, ldx: d, attn.qkv, y: wide, ldy: attn.layout.width, epilogue: .bias)
        attention(pool, attn, qkv: wide, out: normed, batch: batch, block: block.index, arena: arena, observer: observer)
        linear(pool, rows: rows, x: normed, ldx: d, attn.proj, y: x, ldy: d, epilogue: [.bias, .accumulate])
      } else {
        Kernels.add(x, x, count: rows * d)  // lambda_vit's Block_shrink: x = x + x
      }
      layerNorm(pool, x, normed, rows: rows, dim: d, block.norm2, eps: eps)
      linear(pool, rows: rows, x: normed, ldx: d, block.fc1, y: wide, ldy: block.fc1.n,
             epilogue: [.bias, .gelu])
      linear(pool, rows: rows, x: wide, ldx: block.fc1.n, block.fc2, y: x, ldy: d,
             epilogue: [.bias, .accumulate])
      blockObserver?(block.index, x, rows, d)
    }

    // Head: final norm, pooling, classifier(s).
    let pooled = arena.pooled.pointer
    if let norm = plan.finalNorm { layerNorm(pool, x, normed, rows: rows, dim: d, norm, eps: eps) }
    let source = plan.finalNorm != nil ? normed : x
    for b in 0..<batch {
      let dst = pooled + b * d
      let img = source + b * t * d
      if a.pooling == .classToken {
        dst.update(from: img, count: d)
      } else {
        dst.update(repeating: 0, count: d)
        for r in prefix..<t { Kernels.add(dst, img + r * d, count: d) }
        let inv = 1 / Float(plan.patchTokens)
        for i in 0..<d { dst[i] *= inv }
      }
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
      let distIn = arena.pooled.pointer
      for b in 0..<batch { (distIn + b * d).update(from: source + (b * t + 1) * d, count: d) }
      let second = arena.logits.pointer
      linear(pool, rows: batch, x: distIn, ldx: d, headDist, y: second, ldy: classes, epilogue: .bias)
      for i in 0..<(batch * classes) { output[i] = (output[i] + second[i]) * 0.5 }
    }
  }

  /// Multi-head self-attention for every image and head: softmax(scale · Q·Kᵀ) · V, where frozen
  /// entries keep their calibrated values (EAM). A whole-frozen head computes only P·V; rows
  /// whose entries are all frozen skip their dot products (unless inside a short gap, see
  /// `FrozenHead.scoreRuns`), and the softmax skips the exponentials of whole vectors of frozen
  /// entries.
  private func attention(_ pool: ThreadPool, _ attn: AttentionPlan, qkv: UnsafeMutablePointer<Float>,
                         out: UnsafeMutablePointer<Float>, batch: Int, block: Int, arena: Arena,
                         observer: AttentionObserver?)
  {
    let d = plan.dim, t = plan.tokens, heads = attn.heads, hd = d / heads
    let ld = attn.layout.width
    let scale = 1 / Float(hd).squareRoot()
    let pairs = batch * heads
    let workers = min(pool.threadCount, pairs)
    let step = { (w: Int) in
      let scores = arena.scores[w].pointer
      var clock = PhaseClock(timing, thread: w)
      for pair in (w * pairs / workers)..<((w + 1) * pairs / workers) {
        let b = pair / heads, h = pair % heads
        let base = qkv + b * t * ld
        let v = base + attn.layout.v[h]
        let o = out + b * t * d + h * hd
        if let frozen = attn.frozen[h] {
          if frozen.whole {
            Kernels.gemmNN(m: t, n: hd, k: t, a: frozen.values.pointer, lda: t, b: v, ldb: ld, c: o, ldc: d)
            clock.lap(.output)
            continue
          }
          let q = base + attn.layout.q[h]!, k = base + attn.layout.k[h]!
          frozen.scoreRuns.withUnsafeBufferPointer { runs in
            Kernels.gemmNT(runs: runs.baseAddress!, count: runs.count / 2, n: t, k: hd, alpha: scale, a: q, lda: ld,
                           b: k, ldb: ld, c: scores, ldc: t)
          }
          clock.lap(.scores)
          frozen.frozenBits.withUnsafeBufferPointer { bits in
            frozen.valueStart.withUnsafeBufferPointer { start in
              Kernels.softmaxFrozen(scores, ld: t, rows: t, cols: t, frozen: bits.baseAddress!, frozenLD: frozen.maskWords,
                                    values: frozen.packedValues.pointer, valueStart: start.baseAddress!,
                                    freeMass: frozen.freeMass.pointer)
            }
          }
        } else {
          let q = base + attn.layout.q[h]!, k = base + attn.layout.k[h]!
          Kernels.gemmNT(m: t, n: t, k: hd, alpha: scale, a: q, lda: ld, b: k, ldb: ld, c: scores, ldc: t)
          clock.lap(.scores)
          Kernels.softmax(scores, ld: t, rows: t, cols: t)
        }
        clock.lap(.softmax)
        if let observer {
          observer(block, b, h, scores, t)
          clock.restart()
        }
        Kernels.gemmNN(m: t, n: hd, k: t, a: scores, lda: t, b: v, ldb: ld, c: o, ldc: d)
        clock.lap(.output)
      }
    }
    if let timing {
      timing.measure { pool.parallelFor(workers, step) }
    } else {
      pool.parallelFor(workers, step)
    }
  }
}
