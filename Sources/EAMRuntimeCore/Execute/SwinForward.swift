import EAMFormat
import EAMKernels

/// The forward pass of Swin Transformer v1 (timm `SwinTransformer`, NHWC token order).
///
/// Per block: the residual rows are gathered into window order (cyclic shift by −shift and
/// window partition in one step) and normalised there; qkv; attention per (image, window, head)
/// with the relative position bias and, in shifted blocks, the region mask; projection; the
/// result is scattered back to grid order (reverse partition, roll back) and added to the
/// residual. Then the MLP half. Patch merging precedes stages after the first; the head is the
/// final norm, the mean over all tokens and `head.fc`.
struct SwinForward {
  let plan: SwinPlan
  /// Where attention time goes, when benchmarking.
  var probe: AttentionProbe? = nil

  func run(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>, arena: Arena,
           pool: ThreadPool, observer: AttentionObserver?, blockObserver: BlockObserver? = nil,
           linearInputObserver: LinearInputObserver? = nil)
  {
    let a = plan.architecture
    let x = arena.x.pointer, normed = arena.normed.pointer, wide = arena.wide.pointer
    let eps = a.normEps

    // Patch embedding (rows in grid order, NHWC), then the patch norm.
    let side = a.imageSize, c = a.inChannels, g = side / a.patchSize
    let d0 = a.embedDim, tokens0 = g * g
    for b in 0..<batch {
      embedPatches(pool, image: input + b * c * side * side, channels: c, side: side, patch: a.patchSize,
                   plan.patchEmbed, patches: arena.patches.pointer, output: x + b * tokens0 * d0, ldy: d0,
                   observer: linearInputObserver.map { o in { o(-1, .patchEmbed, $0, $1, $2, $2) } })
    }
    if let norm = plan.patchNorm { layerNorm(pool, x, x, rows: batch * tokens0, dim: d0, norm, eps: eps) }

    for stage in plan.stages {
      if let merge = stage.merge { self.merge(pool, merge, x: x, scratch: normed, batch: batch, eps: eps) }
      for block in stage.blocks {
        let d = block.dim, t = block.tokens, rows = batch * t
        // Shift + partition (gather), LayerNorm in window order.
        block.order.withUnsafeBufferPointer { order in
          for b in 0..<batch {
            let src = x + b * t * d, dst = normed + b * t * d
            for r in 0..<t { (dst + r * d).update(from: src + order[r] * d, count: d) }
          }
        }
        layerNorm(pool, normed, normed, rows: rows, dim: d, block.norm1, eps: eps)
        linearInputObserver?(block.index, .qkv, normed, rows, d, d)
        linear(pool, rows: rows, x: normed, ldx: d, block.qkv, y: wide, ldy: 3 * d, epilogue: .bias)
        attention(pool, block, qkv: wide, out: normed, batch: batch, arena: arena, observer: observer)
        linearInputObserver?(block.index, .proj, normed, rows, d, d)
        linear(pool, rows: rows, x: normed, ldx: d, block.proj, y: wide, ldy: d, epilogue: .bias)
        // Reverse partition + roll back (scatter), residual.
        block.order.withUnsafeBufferPointer { order in
          for b in 0..<batch {
            let src = wide + b * t * d, dst = x + b * t * d
            for r in 0..<t { Kernels.add(dst + order[r] * d, src + r * d, count: d) }
          }
        }
        mlp(pool, block.mlp, x: x, normed: normed, wide: wide, rows: rows, dim: d, eps: eps,
            observer: linearInputObserver.map { o in { o(block.index, $0, $1, $2, $3, $4) } })
        blockObserver?(block.index, x, rows, d)
      }
    }

    // Head: final norm, mean over all tokens, classifier.
    let d = plan.finalDim, t = plan.finalResolution * plan.finalResolution
    layerNorm(pool, x, normed, rows: batch * t, dim: d, plan.finalNorm, eps: eps)
    let pooled = arena.pooled.pointer
    meanPool(normed, batch: batch, tokens: t, first: 0, dim: d, into: pooled)
    guard let head = plan.head else {
      output.update(from: pooled, count: batch * d)
      return
    }
    linear(pool, rows: batch, x: pooled, ldx: d, head, y: output, ldy: head.n, epilogue: .bias)
  }

  /// 2×2 patch merging: `scratch[b, i, j, (dx·2 + dy)·C + c] = x[b, 2i + dy, 2j + dx, c]`, LayerNorm
  /// over 4C, then `x = reduction(scratch)`.
  private func merge(_ pool: ThreadPool, _ m: SwinMergePlan, x: UnsafeMutablePointer<Float>,
                     scratch: UnsafeMutablePointer<Float>, batch: Int, eps: Float)
  {
    let r = m.resolution, h = r / 2, c = m.inDim
    for b in 0..<batch {
      let src = x + b * r * r * c, dst = scratch + b * h * h * 4 * c
      for i in 0..<h {
        for j in 0..<h {
          let out = dst + (i * h + j) * 4 * c
          for dx in 0..<2 {
            for dy in 0..<2 {
              (out + (dx * 2 + dy) * c).update(from: src + ((2 * i + dy) * r + 2 * j + dx) * c, count: c)
            }
          }
        }
      }
    }
    let rows = batch * h * h
    layerNorm(pool, scratch, scratch, rows: rows, dim: 4 * c, m.norm, eps: eps)
    linear(pool, rows: rows, x: scratch, ldx: 4 * c, m.reduction, y: x, ldy: m.reduction.n, epilogue: .bias)
  }

  /// Window attention for every (image, head, window) (`HeadAttention` with the relative position
  /// bias and the shift mask on the scores, then the head's frozen map, the same in every window:
  /// frozen entries keep their value, the free ones share the mass left). qkv and out are in
  /// window order. With an observer, each thread takes whole (image, head) pairs so that the
  /// windows of one pair reach it in sequence.
  private func attention(_ pool: ThreadPool, _ block: SwinBlockPlan, qkv: UnsafeMutablePointer<Float>,
                         out: UnsafeMutablePointer<Float>, batch: Int, arena: Arena, observer: AttentionObserver?)
  {
    let groups = batch * block.heads, windows = block.windows
    let grain = observer == nil ? 1 : windows       // units per indivisible group of work
    let units = groups * windows
    let workers = min(pool.threadCount, units / grain)
    pool.attentionStep(workers, probe: probe,
                       Windows(block: block, qkv: qkv, out: out, arena: arena, observer: observer, probe: probe,
                               units: units, grain: grain, workers: workers))
  }

  /// Worker `w` of `attention`: its share of the (image, head, window) units.
  private struct Windows: ParallelBody {
    let block: SwinBlockPlan
    let qkv: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    let arena: Arena, observer: AttentionObserver?, probe: AttentionProbe?
    let units: Int, grain: Int, workers: Int

    func run(_ w: Int) {
      let d = block.dim, heads = block.heads, hd = d / heads, t = block.tokens
      let n = block.windowTokens, windows = block.windows
      let scale = 1 / Float(hd).squareRoot()
      let mask = block.mask?.pointer
      let scores = arena.scores[w].pointer
      let marks = PhaseMarks(probe, thread: w)
      let lo = w * (units / grain) / workers * grain, hi = (w + 1) * (units / grain) / workers * grain
      for unit in lo..<hi {
        let group = unit / windows, win = unit % windows
        let b = group / heads, h = group % heads
        let rows = qkv + (b * t + win * n) * 3 * d
        var head = HeadAttention(tokens: n, headDim: hd, scale: scale)
        head.bias = block.bias + h * n * n
        head.mask = mask.map { UnsafePointer($0 + win * n * n) }
        head.frozen = block.frozen[h]
        let index = block.index
        head.run(q: rows + h * hd, k: rows + d + h * hd, v: rows + 2 * d + h * hd, ld: 3 * d,
                 out: out + (b * t + win * n) * d + h * hd, ldo: d, scores: scores, marks: marks,
                 observe: observer.map { o in { map in o(index, b, h, map, n, rows + 2 * d + h * hd, 3 * d) } })
      }
    }
  }
}
