import EAMFormat
import EAMKernels

// Chains of int8 layers split by rows: each thread takes its own tokens through every step of
// the chain (LayerNorm, per-token quantization, the integer GEMM over all output columns, the
// next layer) with no barrier between steps, since each step reads only the rows the same
// thread wrote. Every element is computed by the same operations as with `linear`'s column split
// (the int8 GEMM's sums are exact, its epilogue per element), so the outputs are the same bits
// for any thread count.

extension LinearWeights {
  /// The int8 weight, if the layer is int8.
  var int8: Int8Weight? {
    if case .int8(let q) = weight { return q }
    return nil
  }
}

/// `y = layer(x)` on rows `r` of one thread: x quantized (per token, or with the layer's static
/// range), then the integer GEMM.
struct Int8Step {
  let w: LinearWeights, q: Int8Weight

  /// `gelu`: x is the previous layer's output before its GELU, applied here in place a few rows
  /// at a time just before they are quantized: the same bits as the GEMM epilogue's GELU, which
  /// competes with the integer GEMM for the vector units (this way measured a little faster).
  func run(_ path: Int8Path, _ r: Range<Int>, x: UnsafeMutablePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>,
           ldy: Int, epilogue: Epilogue, _ a: Int8RowCodes, gelu: Bool = false)
  {
    let m = r.count, codes = a.codes + r.lowerBound * a.ld
    var r0 = r.lowerBound
    while r0 < r.upperBound {
      let r1 = gelu ? min(r.upperBound, r0 + 8) : r.upperBound
      if gelu { for row in r0..<r1 { Kernels.gelu(x + row * ldx, count: w.k) } }
      q.quantize(x + r0 * ldx, ldx: ldx, rows: r1 - r0, k: w.k, codeMax: path.codeMax, codes: a.codes + r0 * a.ld,
                 ldq: a.ld, scales: a.scales + r0, zeros: a.zeros + r0)
      r0 = r1
    }
    Kernels.linearInt8(path: path, m: m, n: w.n, k: w.k, codes: codes, ldq: a.ld, rowScales: a.scales + r.lowerBound,
                       rowZeros: a.zeros + r.lowerBound, packedWeight: q.codes, columnScales: q.columnScales,
                       columnSums: q.columnSums, bias: w.bias, y: y + r.lowerBound * ldy, ldy: ldy,
                       columns: 0..<w.n, epilogue: epilogue)
  }
}

/// The shared activation codes, at one leading dimension for the whole chain (rows of different
/// threads never overlap, whichever layer each is at).
struct Int8RowCodes {
  let codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>
  let ld: Int

  /// Room in `scratch` for `rows` rows of inputs up to `k` deep (reserved on the calling thread).
  init(_ scratch: ActivationCodes, rows: Int, k: Int) {
    ld = Kernels.int8PaddedK(k)
    scratch.reserve(rows: rows, ld: ld)
    codes = scratch.codes
    scales = scratch.scales
    zeros = scratch.zeros
  }
}

/// A row-split chain over the residual stream `x` (`rows` × `dim`): in order, and each if set,
/// `x += proj(attended)`, the MLP half `x += fc2(GELU(fc1(LN(x))))` and the next block's
/// `qkv = qkv(LN(x))` (in `wide`, its rows `width` or more floats apart). `normed` and `wide` are
/// the forward pass's scratch rows.
struct Int8RowChain {
  var proj: (input: UnsafeMutablePointer<Float>, w: LinearWeights)? = nil
  var mlp: MLPPlan? = nil
  var qkv: (norm: NormWeights, w: LinearWeights, width: Int)? = nil

  /// The row stride of everything the chain writes to `wide` (the MLP hidden layer, qkv): one
  /// stride, so that the rows of different threads never overlap.
  var wideStride: Int { max(mlp?.fc1.n ?? 0, qkv?.width ?? 0) }

  /// Threads for `rows` rows: a few rows each at least (small models split too), each part on a
  /// thread of its own.
  static func workers(_ pool: ThreadPool, rows: Int) -> Int { min(pool.concurrentThreads, max(1, rows / 4)) }

  /// Whether a chain can run `w` (int8 weights only).
  static func takes(_ w: LinearWeights) -> Bool { w.int8 != nil }

  /// Whether a chain can run the MLP half `m` (int8 fc1 and fc2, no compact FFN).
  static func takes(_ m: MLPPlan) -> Bool { m.fc2Reduce == nil && takes(m.fc1) && takes(m.fc2) }

  func run(_ pool: ThreadPool, x: UnsafeMutablePointer<Float>, normed: UnsafeMutablePointer<Float>,
           wide: UnsafeMutablePointer<Float>, rows: Int, dim: Int, eps: Float)
  {
    var k = 0
    var scratch: ActivationCodes? = nil
    func include(_ w: LinearWeights?) {
      guard let w, let q = w.int8 else { return }
      k = max(k, w.k)
      scratch = q.scratch
    }
    include(proj?.w)
    include(mlp?.fc1)
    include(mlp?.fc2)
    include(qkv?.w)
    guard let scratch else { return }
    let codes = Int8RowCodes(scratch, rows: rows, k: k)
    let workers = Int8RowChain.workers(pool, rows: rows)
    pool.parallelFor(workers, Int8ChainRows(chain: self, path: Int8Path.active, codes: codes, x: x, normed: normed,
                                            wide: wide, ldw: wideStride, rows: rows, dim: dim, eps: eps,
                                            workers: workers))
  }
}

/// Thread `t` of `Int8RowChain.run`: its rows through every step.
private struct Int8ChainRows: ParallelBody {
  let chain: Int8RowChain, path: Int8Path, codes: Int8RowCodes
  let x: UnsafeMutablePointer<Float>, normed: UnsafeMutablePointer<Float>, wide: UnsafeMutablePointer<Float>
  let ldw: Int, rows: Int, dim: Int, eps: Float, workers: Int

  func run(_ t: Int) {
    let r = (t * rows / workers)..<((t + 1) * rows / workers)
    guard !r.isEmpty else { return }
    let d = dim
    if let p = chain.proj, let q = p.w.int8 {
      Int8Step(w: p.w, q: q).run(path, r, x: p.input, ldx: p.w.k, y: x, ldy: d, epilogue: .biasAccumulate, codes)
    }
    if let m = chain.mlp, let q1 = m.fc1.int8, let q2 = m.fc2.int8 {
      norm(m.norm, r)
      Int8Step(w: m.fc1, q: q1).run(path, r, x: normed, ldx: d, y: wide, ldy: ldw, epilogue: .bias, codes)
      Int8Step(w: m.fc2, q: q2).run(path, r, x: wide, ldx: ldw, y: x, ldy: d, epilogue: .biasAccumulate, codes, gelu: true)
    }
    if let v = chain.qkv, let q = v.w.int8 {
      norm(v.norm, r)
      Int8Step(w: v.w, q: q).run(path, r, x: normed, ldx: d, y: wide, ldy: ldw, epilogue: .bias, codes)
    }
  }

  private func norm(_ w: NormWeights, _ r: Range<Int>) {
    Kernels.layerNorm(x: x + r.lowerBound * dim, ldx: dim, y: normed + r.lowerBound * dim, ldy: dim, rows: r.count,
                      dim: dim, gamma: w.gamma, beta: w.beta, eps: eps)
  }
}
