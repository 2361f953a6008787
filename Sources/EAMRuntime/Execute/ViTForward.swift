import CEAMKernels

/// Sees every attention map the forward pass computes (after softmax): the calibration hook.
/// Called concurrently from the pool's threads, for different (image, head) pairs.
/// Swin: one call per window with its `w² × w²` map (`tokens` = w²); the windows of one
/// (block, image, head) come in sequence, in window order (row-major over the shifted grid),
/// from one thread.
public typealias AttentionObserver = (_ block: Int, _ image: Int, _ head: Int, _ map: UnsafePointer<Float>, _ tokens: Int) -> Void

/// The forward pass of the ViT family (ViT, DeiT, distilled DeiT, DINOv2, lambda_vit shrink).
struct ViTForward {
  let plan: ViTPlan

  func run(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, arena: Arena,
           pool: ThreadPool, observer: AttentionObserver?)
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
             epilogue: epilogueBias)
      var r = 0
      if let cls = plan.classToken { (base + r * d).update(from: cls, count: d); r += 1 }
      if let dist = plan.distToken { (base + r * d).update(from: dist, count: d); r += 1 }
      if let reg = plan.regTokens { (base + r * d).update(from: reg, count: a.registerTokens * d); r += a.registerTokens }
      if a.posEmbedCoversPrefix {
        eam_add(base, plan.posEmbed, t * d)
      } else {
        eam_add(base + prefix * d, plan.posEmbed, plan.patchTokens * d)
      }
    }

    for block in plan.blocks {
      if let attn = block.attention {
        layerNorm(pool, x, normed, rows: rows, dim: d, attn.norm, eps: eps)
        linear(pool, rows: rows, x: normed, ldx: d, attn.qkv, y: wide, ldy: attn.layout.width, epilogue: epilogueBias)
        attention(pool, attn, qkv: wide, out: normed, batch: batch, block: block.index, arena: arena, observer: observer)
        linear(pool, rows: rows, x: normed, ldx: d, attn.proj, y: x, ldy: d, epilogue: epilogueBias | epilogueAccumulate)
      } else {
        eam_add(x, x, rows * d)  // lambda_vit's Block_shrink: x = x + x
      }
      layerNorm(pool, x, normed, rows: rows, dim: d, block.norm2, eps: eps)
      linear(pool, rows: rows, x: normed, ldx: d, block.fc1, y: wide, ldy: block.fc1.n,
             epilogue: epilogueBias | epilogueGELU)
      linear(pool, rows: rows, x: wide, ldx: block.fc1.n, block.fc2, y: x, ldy: d,
             epilogue: epilogueBias | epilogueAccumulate)
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
        for r in prefix..<t { eam_add(dst, img + r * d, d) }
        let inv = 1 / Float(plan.patchTokens)
        for i in 0..<d { dst[i] *= inv }
      }
    }
    if let fc = plan.fcNorm { eam_layernorm(pooled, Int32(d), pooled, Int32(d), Int32(batch), Int32(d), fc.gamma, fc.beta, eps) }
    guard let head = plan.head else {
      output.update(from: pooled, count: batch * d)
      return
    }
    let classes = head.n
    linear(pool, rows: batch, x: pooled, ldx: d, head, y: output, ldy: classes, epilogue: epilogueBias)
    if let headDist = plan.headDist {
      // Distilled DeiT in eval mode: the mean of the class-token head and the distillation head.
      let distIn = arena.pooled.pointer
      for b in 0..<batch { (distIn + b * d).update(from: source + (b * t + 1) * d, count: d) }
      let second = arena.logits.pointer
      linear(pool, rows: batch, x: distIn, ldx: d, headDist, y: second, ldy: classes, epilogue: epilogueBias)
      for i in 0..<(batch * classes) { output[i] = (output[i] + second[i]) * 0.5 }
    }
  }

  private func layerNorm(_ pool: ThreadPool, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                         rows: Int, dim: Int, _ w: NormWeights, eps: Float)
  {
    let workers = min(pool.threadCount, max(1, rows / 64))
    pool.parallelFor(workers) { t in
      let r0 = t * rows / workers, r1 = (t + 1) * rows / workers
      eam_layernorm(x + r0 * dim, Int32(dim), y + r0 * dim, Int32(dim), Int32(r1 - r0), Int32(dim), w.gamma, w.beta, eps)
    }
  }

  /// Multi-head self-attention for every image and head: softmax(scale · Q·Kᵀ) · V, where frozen
  /// entries keep their calibrated values (EAM). A whole-frozen head computes only P·V; rows
  /// whose entries are all frozen skip their dot products.
  private func attention(_ pool: ThreadPool, _ attn: AttentionPlan, qkv: UnsafeMutablePointer<Float>,
                         out: UnsafeMutablePointer<Float>, batch: Int, block: Int, arena: Arena,
                         observer: AttentionObserver?)
  {
    let d = plan.dim, t = plan.tokens, heads = attn.heads, hd = d / heads
    let ld = attn.layout.width
    let scale = 1 / Float(hd).squareRoot()
    let pairs = batch * heads
    let workers = min(pool.threadCount, pairs)
    pool.parallelFor(workers) { w in
      let scores = arena.scores[w].pointer
      for pair in (w * pairs / workers)..<((w + 1) * pairs / workers) {
        let b = pair / heads, h = pair % heads
        let base = qkv + b * t * ld
        let v = base + attn.layout.v[h]
        let o = out + b * t * d + h * hd
        if let frozen = attn.frozen[h] {
          if frozen.whole {
            eam_gemm_nn(Int32(t), Int32(hd), Int32(t), frozen.values.pointer, Int32(t), v, Int32(ld), o, Int32(d), 0)
            continue
          }
          let q = base + attn.layout.q[h]!, k = base + attn.layout.k[h]!
          for (r0, n) in frozen.freeRowRuns {
            eam_gemm_nt(Int32(n), Int32(t), Int32(hd), scale, q + r0 * ld, Int32(ld), k, Int32(ld), scores + r0 * t, Int32(t))
          }
          frozen.mask.withUnsafeBufferPointer { mask in
            eam_softmax_rows_frozen(scores, Int32(t), Int32(t), Int32(t), mask.baseAddress, frozen.values.pointer,
                                    frozen.freeMass.pointer)
          }
        } else {
          let q = base + attn.layout.q[h]!, k = base + attn.layout.k[h]!
          eam_gemm_nt(Int32(t), Int32(t), Int32(hd), scale, q, Int32(ld), k, Int32(ld), scores, Int32(t))
          eam_softmax_rows(scores, Int32(t), Int32(t), Int32(t))
        }
        observer?(block, b, h, scores, t)
        eam_gemm_nn(Int32(t), Int32(hd), Int32(t), scores, Int32(t), v, Int32(ld), o, Int32(d), 0)
      }
    }
  }
}
