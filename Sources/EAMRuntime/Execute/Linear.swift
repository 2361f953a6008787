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

