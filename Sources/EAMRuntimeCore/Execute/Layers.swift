import EAMFormat
// The layer library every forward pass is written with: linear layers and LayerNorm split across
// the pool, the patch embedding, the MLP half of a block, pooling and the classifier.
import EAMKernels

/// Runs `Y = X · Wᵀ (+ epilogue)` for all rows, splitting the output columns (whole panels)
/// across the pool's threads. Each element is computed by one thread in a fixed order.
func linear(_ pool: ThreadPool, rows: Int, x: UnsafePointer<Float>, ldx: Int, _ w: LinearWeights,
            y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: Epilogue)
{
  let panel = Kernels.panel
  let panels = (w.n + panel - 1) / panel
  let workers = min(pool.threadCount, panels, max(1, rows * w.n * w.k / 65536))
  if case .int8(let q) = w.weight {
    linearInt8(pool, rows: rows, x: x, ldx: ldx, w, q, y: y, ldy: ldy, epilogue: epilogue, workers: workers)
    return
  }
  pool.parallelFor(workers, LinearColumns(rows: rows, x: x, ldx: ldx, w: w, y: y, ldy: ldy, epilogue: epilogue,
                                          panels: panels, workers: workers))
}

/// Thread `t` of `linear`: its whole panels of output columns.
private struct LinearColumns: ParallelBody {
  let rows: Int, x: UnsafePointer<Float>, ldx: Int, w: LinearWeights
  let y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: Epilogue, panels: Int, workers: Int

  func run(_ t: Int) {
    let panel = Kernels.panel
    let n0 = t * panels / workers * panel
    let n1 = min(w.n, (t + 1) * panels / workers * panel)
    guard n0 < n1 else { return }
    switch w.weight {
    case .f32(let packed):
      Kernels.linear(m: rows, n: w.n, k: w.k, x: x, ldx: ldx, packedWeight: packed, bias: w.bias, y: y, ldy: ldy,
                     columns: n0..<n1, epilogue: epilogue)
    case .f16(let packed):
      Kernels.linearF16(m: rows, n: w.n, k: w.k, x: x, ldx: ldx, packedWeight: packed, bias: w.bias, y: y, ldy: ldy,
                        columns: n0..<n1, epilogue: epilogue)
    case .int4(let q):
      Kernels.linearInt4(m: rows, n: w.n, k: w.k, group: q.group, x: x, ldx: ldx, codes: q.codes, scales: q.scales,
                         bias: w.bias, y: y, ldy: ldy, columns: n0..<n1, epilogue: epilogue)
    case .int8: break
    }
  }
}

/// An int8 layer: the input quantized per token (rows split across the pool), then the integer
/// GEMM (output columns split), both on the calling thread's int8 path.
private func linearInt8(_ pool: ThreadPool, rows: Int, x: UnsafePointer<Float>, ldx: Int, _ w: LinearWeights,
                        _ q: Int8Weight, y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: Epilogue, workers: Int)
{
  let path = Int8Path.active, ldq = Kernels.int8PaddedK(w.k), panel = Kernels.panel
  let panels = (w.n + panel - 1) / panel
  let a = q.scratch
  a.reserve(rows: rows, ld: ldq)
  let codes = a.codes, scales = a.scales, zeros = a.zeros
  let quantizers = min(pool.threadCount, max(1, rows / 32))
  pool.parallelFor(quantizers, QuantizedRows(q: q, rows: rows, x: x, ldx: ldx, k: w.k, codeMax: path.codeMax, codes: codes,
                                             ldq: ldq, scales: scales, zeros: zeros, workers: quantizers))
  pool.parallelFor(workers, Int8Columns(path: path, rows: rows, w: w, q: q, codes: codes, ldq: ldq, scales: scales,
                                        zeros: zeros, y: y, ldy: ldy, epilogue: epilogue, panels: panels, workers: workers))
}

/// Thread `t` of `linearInt8`'s quantization: its rows.
private struct QuantizedRows: ParallelBody {
  let q: Int8Weight
  let rows: Int, x: UnsafePointer<Float>, ldx: Int, k: Int, codeMax: Int
  let codes: UnsafeMutablePointer<UInt8>, ldq: Int, scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>
  let workers: Int

  func run(_ t: Int) {
    let r0 = t * rows / workers, r1 = (t + 1) * rows / workers
    guard r0 < r1 else { return }
    q.quantize(x + r0 * ldx, ldx: ldx, rows: r1 - r0, k: k, codeMax: codeMax, codes: codes + r0 * ldq, ldq: ldq,
               scales: scales + r0, zeros: zeros + r0)
  }
}

/// Thread `t` of `linearInt8`'s integer GEMM: its whole panels of output columns.
private struct Int8Columns: ParallelBody {
  let path: Int8Path, rows: Int, w: LinearWeights, q: Int8Weight
  let codes: UnsafeMutablePointer<UInt8>, ldq: Int, scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>
  let y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: Epilogue, panels: Int, workers: Int

  func run(_ t: Int) {
    let panel = Kernels.panel
    let n0 = t * panels / workers * panel
    let n1 = min(w.n, (t + 1) * panels / workers * panel)
    guard n0 < n1 else { return }
    Kernels.linearInt8(path: path, m: rows, n: w.n, k: w.k, codes: codes, ldq: ldq, rowScales: scales, rowZeros: zeros,
                       packedWeight: q.codes, columnScales: q.columnScales, columnSums: q.columnSums, bias: w.bias,
                       y: y, ldy: ldy, columns: n0..<n1, epilogue: epilogue)
  }
}

/// Row-wise LayerNorm of `rows` rows (leading dimension `dim`), rows split across the pool.
func layerNorm(_ pool: ThreadPool, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
               rows: Int, dim: Int, _ w: NormWeights, eps: Float)
{
  let workers = min(pool.threadCount, max(1, rows / 64))
  pool.parallelFor(workers, NormRows(x: x, y: y, rows: rows, dim: dim, w: w, eps: eps, workers: workers))
}

/// Thread `t` of `layerNorm`: its rows.
private struct NormRows: ParallelBody {
  let x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, dim: Int, w: NormWeights, eps: Float
  let workers: Int

  func run(_ t: Int) {
    let r0 = t * rows / workers, r1 = (t + 1) * rows / workers
    Kernels.layerNorm(x: x + r0 * dim, ldx: dim, y: y + r0 * dim, ldy: dim, rows: r1 - r0, dim: dim,
                      gamma: w.gamma, beta: w.beta, eps: eps)
  }
}

/// The patch embedding of one image (`channels × side × side`, CHW): its `patch × patch` patches
/// in grid order gathered into `patches` (row `c·p·p + y·p + x`), then one linear layer into
/// `output` rows (leading dimension `ldy`).
func embedPatches(_ pool: ThreadPool, image: UnsafePointer<Float>, channels c: Int, side: Int, patch p: Int,
                  _ w: LinearWeights, patches: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, ldy: Int,
                  observer: ((UnsafePointer<Float>, Int, Int) -> Void)? = nil)
{
  let g = side / p, k = c * p * p
  for gy in 0..<g {
    for gx in 0..<g {
      let row = patches + (gy * g + gx) * k
      for ch in 0..<c {
        for yy in 0..<p {
          (row + ch * p * p + yy * p).update(from: image + ch * side * side + (gy * p + yy) * side + gx * p, count: p)
        }
      }
    }
  }
  observer?(patches, g * g, k)
  linear(pool, rows: g * g, x: patches, ldx: k, w, y: output, ldy: ldy, epilogue: .bias)
}

/// The MLP half of a block on `rows` rows of the residual stream `x`:
/// `x += fc2(GELU(fc1(LayerNorm(x))))`, with `normed` and `wide` as scratch. A compact FFN's fc2
/// is two linear layers, its rank-wide intermediate in `normed`.
func mlp(_ pool: ThreadPool, _ m: MLPPlan, x: UnsafeMutablePointer<Float>, normed: UnsafeMutablePointer<Float>,
         wide: UnsafeMutablePointer<Float>, rows: Int, dim d: Int, eps: Float,
         observer: ((ObservedLinear, UnsafePointer<Float>, Int, Int, Int) -> Void)? = nil)
{
  layerNorm(pool, x, normed, rows: rows, dim: d, m.norm, eps: eps)
  observer?(.fc1, normed, rows, d, d)
  linear(pool, rows: rows, x: normed, ldx: d, m.fc1, y: wide, ldy: m.fc1.n, epilogue: .biasGELU)
  if m.fc2Reduce == nil { observer?(.fc2, wide, rows, m.fc1.n, m.fc1.n) }
  if let reduce = m.fc2Reduce {
    linear(pool, rows: rows, x: wide, ldx: m.fc1.n, reduce, y: normed, ldy: reduce.n, epilogue: .bias)
    linear(pool, rows: rows, x: normed, ldx: reduce.n, m.fc2, y: x, ldy: d, epilogue: .biasAccumulate)
  } else {
    linear(pool, rows: rows, x: wide, ldx: m.fc1.n, m.fc2, y: x, ldy: d, epilogue: .biasAccumulate)
  }
}

/// For each image of `source` (`tokens` rows of `dim`), the mean of rows `first..<tokens` into
/// `pooled` (one row per image).
func meanPool(_ source: UnsafePointer<Float>, batch: Int, tokens t: Int, first: Int, dim d: Int,
              into pooled: UnsafeMutablePointer<Float>)
{
  for b in 0..<batch {
    let dst = pooled + b * d, img = source + b * t * d
    dst.update(repeating: 0, count: d)
    for r in first..<t { Kernels.add(dst, img + r * d, count: d) }
    let inv = 1 / Float(t - first)
    for i in 0..<d { dst[i] *= inv }
  }
}
