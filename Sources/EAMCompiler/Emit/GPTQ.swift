import EAMFormat

/// GPTQ's error feedback for int4 (Frantar et al., 2022): the columns of a weight (its k inputs)
/// are rounded one after another, and each column's rounding error is spread over the columns
/// not yet rounded, weighted by the inverse Hessian H⁻¹ of the layer's squared output error
/// (H = Σ x·xᵀ over calibration inputs), so that the layer's output moves least on the
/// calibration data. Scales are chosen per group (row, `group` consecutive k) when the rounding
/// reaches the group's first column, from the group as updated so far, with the clipping search
/// of round-to-nearest. Double precision throughout; the same inputs give the same bits.
enum GPTQ {
  /// The dampening added to H's diagonal: this fraction of its mean.
  static let dampening = 0.01

  /// `weight` (`[n][k]` row-major) rounded to int4 against `hessian` (`k × k`): the dequantized
  /// values (codes × scale, what the packer reproduces exactly with `scales`) and the binary16
  /// scales (`[n][groups]` row-major). Nil when H is not positive definite even after dampening.
  static func int4(_ weight: [Float], n: Int, k: Int, group: Int, hessian: [Double])
    -> (values: [Float], scales: [UInt16])?
  {
    precondition(weight.count == n * k && hessian.count == k * k && group >= 1)
    var h = hessian
    var w = weight.map(Double.init)
    // Inputs never seen (a zero diagonal) carry no error: their weights round to 0 freely.
    var mean = 0.0
    for i in 0..<k { mean += h[i * k + i] }
    mean /= Double(k)
    guard mean > 0, mean.isFinite else { return nil }
    for i in 0..<k where h[i * k + i] == 0 {
      h[i * k + i] = 1
      for r in 0..<n { w[r * k + i] = 0 }
    }
    for i in 0..<k { h[i * k + i] += dampening * mean }
    guard let u = upperCholeskyOfInverse(h, k) else { return nil }

    let groups = (k + group - 1) / group
    var scales = [UInt16](repeating: 0, count: n * groups)
    var out = [Float](repeating: 0, count: n * k)
    var scale = [Double](repeating: 0, count: n)
    w.withUnsafeMutableBufferPointer { w in
      u.withUnsafeBufferPointer { u in
        for i in 0..<k {
          if i % group == 0 {
            let end = min(i + group, k)
            for r in 0..<n {
              let h16 = WeightQuantization.int4Scale(UnsafeBufferPointer(rebasing: w[(r * k + i)..<(r * k + end)]))
              scales[r * groups + i / group] = h16.bitPattern
              scale[r] = Double(Float(h16))
            }
          }
          let d = u[i * k + i]
          for r in 0..<n {
            let row = w.baseAddress! + r * k
            let s = scale[r]
            let q = s > 0 ? min(max((row[i] / s).rounded(.toNearestOrEven), -7), 7) * s : 0
            out[r * k + i] = Float(q)
            let e = (row[i] - q) / d
            if e != 0 {
              let ui = u.baseAddress! + i * k
              for j in (i + 1)..<max(i + 1, k) { row[j] -= e * ui[j] }
            }
          }
        }
      }
    }
    return (out, scales)
  }

  /// The upper-triangular U with UᵀU = H⁻¹ (`k × k`, row-major), or nil if H is not positive
  /// definite. With P the order reversal, P·H·P = M·Mᵀ (Cholesky) gives U = P·M⁻¹·P: one
  /// factorisation and one triangular inverse, no explicit H⁻¹.
  static func upperCholeskyOfInverse(_ h: [Double], _ k: Int) -> [Double]? {
    // a = P·H·P, factorised in place into M (lower), right-looking so that every update is a
    // contiguous row operation.
    var a = [Double](repeating: 0, count: k * k)
    for i in 0..<k { for j in 0..<k { a[i * k + j] = h[(k - 1 - i) * k + (k - 1 - j)] } }
    var column = [Double](repeating: 0, count: k)
    let ok = a.withUnsafeMutableBufferPointer { a -> Bool in
      for j in 0..<k {
        let pivot = a[j * k + j]
        guard pivot > 0, pivot.isFinite else { return false }
        let l = pivot.squareRoot()
        a[j * k + j] = l
        for i in (j + 1)..<max(j + 1, k) {
          a[i * k + j] /= l
          column[i] = a[i * k + j]
        }
        for i in (j + 1)..<max(j + 1, k) {
          let f = column[i], row = a.baseAddress! + i * k
          for p in (j + 1)...i { row[p] -= f * column[p] }
        }
      }
      return true
    }
    guard ok else { return nil }
    // X = M⁻¹ by forward substitution, row by row: X[i] = (eᵢ − Σ_{p<i} M[i][p]·X[p]) / M[i][i].
    var x = [Double](repeating: 0, count: k * k)
    x.withUnsafeMutableBufferPointer { x in
      for i in 0..<k {
        let row = x.baseAddress! + i * k
        row[i] = 1
        for p in 0..<i {
          let f = a[i * k + p]
          if f == 0 { continue }
          let source = x.baseAddress! + p * k
          for c in 0...p { row[c] -= f * source[c] }
        }
        let inv = 1 / a[i * k + i]
        for c in 0...i { row[c] *= inv }
      }
    }
    // U = P·X·P.
    var u = [Double](repeating: 0, count: k * k)
    for i in 0..<k { for j in 0..<k { u[i * k + j] = x[(k - 1 - i) * k + (k - 1 - j)] } }
    return u
  }
}

/// GPTQ's results within one compile, so that a layer rounded for one emission (the report's
/// measurements, the artifact) is not rounded again. Keyed by the layer, its shape and group, and
/// checksums of its weight and Hessian. Emission is single-threaded.
final class GPTQMemo: @unchecked Sendable, Equatable {
  private struct Key: Hashable {
    let layer: String, n: Int, k: Int, group: Int, weight: UInt32, hessian: UInt32
  }
  private var results: [Key: (values: [Float], scales: [UInt16])?] = [:]

  static func == (a: GPTQMemo, b: GPTQMemo) -> Bool { a === b }

  /// `GPTQ.int4` of layer `layer`, computed once.
  func int4(_ layer: String, _ weight: [Float], n: Int, k: Int, group: Int, hessian: [Double])
    -> (values: [Float], scales: [UInt16])?
  {
    let key = Key(layer: layer, n: n, k: k, group: group,
                  weight: weight.withUnsafeBytes { CRC32C.checksum($0) },
                  hessian: hessian.withUnsafeBytes { CRC32C.checksum($0) })
    if let known = results[key] { return known }
    let r = GPTQ.int4(weight, n: n, k: k, group: group, hessian: hessian)
    results[key] = r
    return r
  }
}
