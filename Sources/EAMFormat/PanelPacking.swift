/// The panel-packed layout of a linear weight (FORMAT.md): `[N][K]` stored as `ceil(N/16)`
/// panels, each holding 16 consecutive rows of W interleaved by k.
public enum PanelPacking {
  public static let panel = 16

  /// Packs `weight` (`n` rows of `k` values, row-major) into panels; padding is zero.
  public static func pack<T: BinaryFloatingPoint>(_ weight: [T], n: Int, k: Int) -> [T] {
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

  /// The inverse of `pack`.
  public static func unpack<T: BinaryFloatingPoint>(_ packed: [T], n: Int, k: Int) -> [T] {
    var out = [T](repeating: 0, count: n * k)
    for row in 0..<n {
      let p = row / panel, j = row % panel
      for kk in 0..<k { out[row * k + kk] = packed[p * panel * k + kk * panel + j] }
    }
    return out
  }
}
