/// Sums over one layer's attention maps, each head's map flattened over entries and images:
/// Σ a_g·a_g' and Σ a_g and the entry count. From them, least squares fits one head's map from
/// others' (with an intercept) — the redundancy hallucinated heads exploit.
struct HeadMapGram: Sendable {
  var products: [[Double]]
  var sums: [Double]
  var count = 0.0

  init(heads: Int) {
    products = .init(repeating: .init(repeating: 0, count: heads), count: heads)
    sums = .init(repeating: 0, count: heads)
  }

  /// Adds one image's maps: `maps` holds the heads' maps one after the other, `entries` each.
  mutating func add(_ maps: UnsafePointer<Float>, entries: Int) {
    let n = sums.count
    for i in 0..<n {
      let a = maps + i * entries
      var s = 0.0
      for e in 0..<entries { s += Double(a[e]) }
      sums[i] += s
      for j in i..<n {
        let b = maps + j * entries
        var p = 0.0
        for e in 0..<entries { p += Double(a[e]) * Double(b[e]) }
        products[i][j] += p
        if i != j { products[j][i] += p }
      }
    }
    count += Double(entries)
  }

  private func centred(_ i: Int, _ j: Int) -> Double { products[i][j] - sums[i] * sums[j] / count }

  /// The least-squares fit of head `h`'s map from `sources`' maps: weights, intercept and R².
  func fit(_ h: Int, from sources: [Int]) -> (weights: [Double], intercept: Double, explained: Double) {
    guard !sources.isEmpty, count > 1 else { return ([Double](repeating: 0, count: sources.count), count > 0 ? sums[h] / count : 0, 0) }
    var a = sources.map { i in sources.map { j in centred(i, j) } }
    var y = sources.map { centred($0, h) }
    // A tiny ridge keeps identical heads solvable.
    let ridge = 1e-12 * (sources.map { centred($0, $0) }.max() ?? 1)
    for i in a.indices { a[i][i] += ridge }
    let rhs = y
    guard let c = HeadMapGram.solve(&a, &y) else { return ([Double](repeating: 0, count: sources.count), sums[h] / count, 0) }
    let intercept = (sums[h] - zip(c, sources).reduce(0.0) { $0 + $1.0 * sums[$1.1] }) / count
    let total = centred(h, h)
    let explained = total > 0 ? min(1, max(0, zip(c, rhs).reduce(0.0) { $0 + $1.0 * $1.1 } / total)) : 1
    return (c, intercept, explained)
  }

  /// R² of head `h`'s map fitted from `sources`'.
  func explained(_ h: Int, from sources: [Int]) -> Double { fit(h, from: sources).explained }

  /// Solves `a·x = y` by Gaussian elimination with partial pivoting; nil if singular.
  static func solve(_ a: inout [[Double]], _ y: inout [Double]) -> [Double]? {
    let n = y.count
    for col in 0..<n {
      guard let pivot = (col..<n).max(by: { abs(a[$0][col]) < abs(a[$1][col]) }), abs(a[pivot][col]) > 0 else { return nil }
      a.swapAt(col, pivot)
      y.swapAt(col, pivot)
      for r in (col + 1)..<n {
        let f = a[r][col] / a[col][col]
        if f == 0 { continue }
        for c in col..<n { a[r][c] -= f * a[col][c] }
        y[r] -= f * y[col]
      }
    }
    var x = [Double](repeating: 0, count: n)
    for r in stride(from: n - 1, through: 0, by: -1) {
      var s = y[r]
      for c in (r + 1)..<n { s -= a[r][c] * x[c] }
      x[r] = s / a[r][r]
    }
    return x
  }
}
