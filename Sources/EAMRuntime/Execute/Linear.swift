import CEAMKernels

/// Runs `Y = X · Wᵀ (+ epilogue)` for all rows, splitting the output columns (whole panels)
/// across the pool's threads. Each element is computed by one thread in a fixed order.
func linear(_ pool: ThreadPool, rows: Int, x: UnsafePointer<Float>, ldx: Int, _ w: LinearWeights,
            y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: Int32)
{
  let panels = (w.n + 15) / 16
  let workers = min(pool.threadCount, panels, max(1, rows * w.n * w.k / 65536))
  pool.parallelFor(workers) { t in
    let n0 = t * panels / workers * 16
    let n1 = min(w.n, (t + 1) * panels / workers * 16)
    if n0 < n1 {
      eam_gemm_packed(Int32(rows), Int32(w.n), Int32(w.k), x, Int32(ldx), w.weight, w.bias, y, Int32(ldy),
                      Int32(n0), Int32(n1), epilogue)
    }
  }
}

let epilogueBias = Int32(EAM_EPI_BIAS)
let epilogueGELU = Int32(EAM_EPI_GELU)
let epilogueAccumulate = Int32(EAM_EPI_ACCUMULATE)
