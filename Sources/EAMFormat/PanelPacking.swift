/// The panel-packed layout of a linear weight (FORMAT.md): `[N][K]` stored as `ceil(N/16)`
/// panels, each holding 16 consecutive rows of W interleaved by k.
public enum PanelPacking {
  /// Rows of W per panel (output columns per GEMM tile); the kernels' `EAM_PANEL`.
  public static let panel = 16

  /// Packs `weight` (`n` rows of `k` values, row-major) into panels; padding is zero.
  public static func pack<T: Numeric>(_ weight: [T], n: Int, k: Int) -> [T] {
    precondition(weight.count == n * k)
    let panels = (n + panel - 1) / panel
    var out = [T](repeating: 0, count: panels * panel * k)
    weight.withUnsafeBufferPointer { w in
      out.withUnsafeMutableBufferPointer { o in
        for row in 0..<n {
          let p = row / panel, j = row % panel
          let base = p * panel * k + j
          for kk in 0..<k { o[base + kk * panel] = w[row * k + kk] }
        }
      }
    }
    return out
  }
}
