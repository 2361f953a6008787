/// Eigenvalues and eigenvectors of a real symmetric matrix by cyclic Jacobi rotations (double
/// precision; small matrices: the width of a ViT, hundreds). Deterministic: a fixed sweep order.
struct SymmetricEigen {
  /// Ascending order is not kept: `values[i]` belongs to column `i` of `vectors`.
  var values: [Double]
  /// `n × n`, row-major; column `i` is the unit eigenvector of `values[i]`.
  var vectors: [Double]
  let n: Int

  /// `a`: `n × n` row-major, symmetric.
  init(_ a: [Double], n: Int, sweeps: Int = 60) {
    self.n = n
    var a = a
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    let scale = max((0..<n).reduce(0.0) { max($0, abs(a[$1 * n + $1])) }, 1e-300)
    for _ in 0..<sweeps {
      var off = 0.0
      for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
      if off.squareRoot() <= 1e-15 * scale * Double(n) { break }
      for p in 0..<n {
        for q in (p + 1)..<n {
          let apq = a[p * n + q]
          if abs(apq) <= 1e-300 { continue }
          let app = a[p * n + p], aqq = a[q * n + q]
          let theta = (aqq - app) / (2 * apq)
          let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
          let c = 1 / (t * t + 1).squareRoot(), s = t * c
          for k in 0..<n {
            let akp = a[k * n + p], akq = a[k * n + q]
            a[k * n + p] = c * akp - s * akq
            a[k * n + q] = s * akp + c * akq
          }
          for k in 0..<n {
            let apk = a[p * n + k], aqk = a[q * n + k]
            a[p * n + k] = c * apk - s * aqk
            a[q * n + k] = s * apk + c * aqk
          }
          for k in 0..<n {
            let vkp = v[k * n + p], vkq = v[k * n + q]
            v[k * n + p] = c * vkp - s * vkq
            v[k * n + q] = s * vkp + c * vkq
          }
        }
      }
    }
    values = (0..<n).map { a[$0 * n + $0] }
    vectors = v
  }

  /// Indices of the `r` largest eigenvalues, largest first (ties by index).
  func largest(_ r: Int) -> [Int] {
    Array((0..<n).sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }.prefix(r))
  }
}
