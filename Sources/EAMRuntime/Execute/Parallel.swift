// The two row/column-parallel building blocks every forward pass uses.
import EAMKernels

/// Runs `Y = X · Wᵀ (+ epilogue)` for all rows, splitting the output columns (whole panels)
/// across the pool's threads. Each element is computed by one thread in a fixed order.
func linear(_ pool: ThreadPool, rows: Int, x: UnsafePointer<Float>, ldx: Int, _ w: LinearWeights,
            y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: Epilogue)
{
  let panels = (w.n + 15) / 16
  let workers = min(pool.threadCount, panels, max(1, rows * w.n * w.k / 65536))
  pool.parallelFor(workers) { t in
    let n0 = t * panels / workers * 16
    let n1 = min(w.n, (t + 1) * panels / workers * 16)
    if n0 < n1 {
      Kernels.linear(m: rows, n: w.n, k: w.k, x: x, ldx: ldx, packedWeight: w.weight, bias: w.bias, y: y, ldy: ldy,
                     columns: n0..<n1, epilogue: epilogue)
    }
  }
}


/// Row-wise LayerNorm of `rows` rows (leading dimension `dim`), rows split across the pool.
func layerNorm(_ pool: ThreadPool, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
               rows: Int, dim: Int, _ w: NormWeights, eps: Float)
{
  let workers = min(pool.threadCount, max(1, rows / 64))
  pool.parallelFor(workers) { t in
    let r0 = t * rows / workers, r1 = (t + 1) * rows / workers
    Kernels.layerNorm(x: x + r0 * dim, ldx: dim, y: y + r0 * dim, ldy: dim, rows: r1 - r0, dim: dim,
                      gamma: w.gamma, beta: w.beta, eps: eps)
  }
}
