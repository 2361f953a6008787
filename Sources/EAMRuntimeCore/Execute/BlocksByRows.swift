import EAMFormat
import EAMKernels

// Every block of a ViT in one parallel step: each thread takes its own tokens through qkv, its
// share of the (image, head) pairs of attention, then its tokens through proj and the MLP half,
// meeting the others (`SpinBarrier`) only where it needs their rows: after each qkv (the keys
// and values of every token) and after each attention (every head's output of its tokens; the
// qkv rows in `wide` are reused after it). One step instead of seven or more pool steps a block
// (each wakes sleeping threads). Rows that threads write never overlap: every buffer is written
// at one stride for all. Every element is computed by the same operations as block by block
// with `linear`'s column split, so the outputs are the same bits for any thread count.

/// `y = layer(x)` on rows `r` of one thread, every output column, whatever the weight type.
/// `gelu`: GELU is applied to x's rows first (an int8 layer does it just before quantizing; the
/// same bits as the previous layer's GELU epilogue).
func linearRows(_ w: LinearWeights, _ r: Range<Int>, x: UnsafeMutablePointer<Float>, ldx: Int,
                y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: Epilogue, codes: Int8RowCodes?, gelu: Bool = false)
{
  guard !r.isEmpty else { return }
  if case .int8(let q) = w.weight, let codes {
    Int8Step(w: w, q: q).run(Int8Path.active, r, x: x, ldx: ldx, y: y, ldy: ldy, epilogue: epilogue, codes, gelu: gelu)
    return
  }
  if gelu { for row in r { Kernels.gelu(x + row * ldx, count: w.k) } }
  let m = r.count, xr = x + r.lowerBound * ldx, yr = y + r.lowerBound * ldy
  switch w.weight {
  case .f32(let p):
    Kernels.linear(m: m, n: w.n, k: w.k, x: xr, ldx: ldx, packedWeight: p, bias: w.bias, y: yr, ldy: ldy,
                   columns: 0..<w.n, epilogue: epilogue)
  case .f16(let p):
    Kernels.linearF16(m: m, n: w.n, k: w.k, x: xr, ldx: ldx, packedWeight: p, bias: w.bias, y: yr, ldy: ldy,
                      columns: 0..<w.n, epilogue: epilogue)
  case .int4(let q):
    _ = Kernels.linearInt4(m: m, n: w.n, k: w.k, group: q.group, x: xr, ldx: ldx, codes: q.codes, scales: q.scales,
                           bias: w.bias, y: yr, ldy: ldy, columns: 0..<w.n, epilogue: epilogue)
  case .int8: break  // not reached: an int8 layer always has codes here
  }
}

/// The blocks of a ViT in one parallel step.
struct BlocksByRows {
  let plan: ViTPlan

  /// Whether the blocks can run this way: nothing observed, no hallucinated heads. Fused or
  /// unfused attention, frozen heads, heads frozen whole, removed attention, compact FFN and
  /// every weight type can.
  func applies(observed: Bool) -> Bool {
    guard !observed, !plan.blocks.isEmpty else { return false }
    for b in plan.blocks {
      if let a = b.attention, a.hasHallucinated { return false }
      if b.mlp.fc2Reduce.map({ $0.n > plan.dim }) ?? false { return false }
    }
    return true
  }

  func run(_ pool: ThreadPool, rows: Int, eps: Float, arena: Arena, barrier: SpinBarrier, probe: AttentionProbe?) {
    var k = 0, ldw = 0
    var scratch: ActivationCodes? = nil
    func include(_ w: LinearWeights?) {
      guard let w else { return }
      if let q = w.int8 {
        k = max(k, w.k)
        scratch = q.scratch
      }
    }
    for b in plan.blocks {
      if let a = b.attention {
        include(a.qkv)
        include(a.proj)
        ldw = max(ldw, a.layout.width)
      }
      include(b.mlp.fc1)
      include(b.mlp.fc2)
      include(b.mlp.fc2Reduce)
      ldw = max(ldw, b.mlp.fc1.n)
    }
    let codes = scratch.map { Int8RowCodes($0, rows: rows, k: k) }
    let workers = Int8RowChain.workers(pool, rows: rows)
    pool.parallelFor(workers, BlockRows(plan: plan, arena: arena, barrier: barrier, probe: probe, codes: codes, ldw: ldw,
                                        rows: rows, eps: eps, workers: workers))
  }
}

/// Thread `t` of `BlocksByRows.run`.
private struct BlockRows: ParallelBody {
  let plan: ViTPlan, arena: Arena, barrier: SpinBarrier, probe: AttentionProbe?, codes: Int8RowCodes?
  let ldw: Int, rows: Int, eps: Float, workers: Int

  func run(_ t: Int) {
    let r = (t * rows / workers)..<((t + 1) * rows / workers)
    let d = plan.dim, x = arena.x.pointer, normed = arena.normed.pointer, wide = arena.wide.pointer
    var qkvReady = false
    for (i, block) in plan.blocks.enumerated() {
      if let attn = block.attention {
        if !qkvReady { qkv(attn, r) }
        barrier.wait(threads: workers)
        if t == 0 { probe?.step(true) }
        // Attention by (image, head) pairs, as block by block: each pair needs every row's qkv.
        ViTForward.HeadPairs(plan: plan, attn: attn, qkv: wide, ld: ldw, out: normed, block: block.index, arena: arena,
                             observer: nil, probe: probe, pairs: rows / plan.tokens * attn.heads,
                             workers: workers).run(t)
        barrier.wait(threads: workers)
        if t == 0 { probe?.step(false) }
        linearRows(attn.proj, r, x: normed, ldx: attn.proj.k, y: x, ldy: d, epilogue: .biasAccumulate, codes: codes)
      } else if block.residual == .double, !r.isEmpty {
        Kernels.add(x + r.lowerBound * d, x + r.lowerBound * d, count: r.count * d)  // lambda_vit: x = x + x
      }
      mlp(block.mlp, r)
      qkvReady = false
      if i + 1 < plan.blocks.count, let next = plan.blocks[i + 1].attention {
        qkv(next, r)
        qkvReady = true
      }
    }
  }

  /// `x += fc2(GELU(fc1(LN(x))))` on rows r; GELU where an int8 fc2 quantizes, else fc1's epilogue.
  private func mlp(_ m: MLPPlan, _ r: Range<Int>) {
    guard !r.isEmpty else { return }
    let d = plan.dim, x = arena.x.pointer, normed = arena.normed.pointer, wide = arena.wide.pointer
    norm(m.norm, r)
    let first = m.fc2Reduce ?? m.fc2, late = first.int8 != nil && codes != nil
    linearRows(m.fc1, r, x: normed, ldx: d, y: wide, ldy: ldw, epilogue: late ? .bias : .biasGELU, codes: codes)
    if let reduce = m.fc2Reduce {
      // The rank-wide rows at `normed`'s own stride (rank ≤ dim): rows of different threads never
      // overlap, while another thread's fc1 may still be reading its LayerNorm rows there.
      linearRows(reduce, r, x: wide, ldx: ldw, y: normed, ldy: d, epilogue: .bias, codes: codes, gelu: late)
      linearRows(m.fc2, r, x: normed, ldx: d, y: x, ldy: d, epilogue: .biasAccumulate, codes: codes)
    } else {
      linearRows(m.fc2, r, x: wide, ldx: ldw, y: x, ldy: d, epilogue: .biasAccumulate, codes: codes, gelu: late)
    }
  }

  /// `wide = qkv(LN(x))` on rows r.
  private func qkv(_ attn: AttentionPlan, _ r: Range<Int>) {
    guard !r.isEmpty else { return }
    norm(attn.norm, r)
    linearRows(attn.qkv, r, x: arena.normed.pointer, ldx: plan.dim, y: arena.wide.pointer, ldy: ldw, epilogue: .bias,
               codes: codes)
  }

  private func norm(_ w: NormWeights, _ r: Range<Int>) {
    let d = plan.dim
    Kernels.layerNorm(x: arena.x.pointer + r.lowerBound * d, ldx: d, y: arena.normed.pointer + r.lowerBound * d, ldy: d,
                      rows: r.count, dim: d, gamma: w.gamma, beta: w.beta, eps: eps)
  }
}
