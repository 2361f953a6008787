import EAMRuntime

/// The first and second moments of every block's MLP-half output over calibration tokens: what
/// compact FFN's data-aware factorisation minimises the error on. Gathered with the runtime's
/// sublayer observers (the output is the stream after the block minus the stream before its MLP).
struct MLPOutputMoments: Sendable {
  /// Per block: Σ y (d values) and Σ y·yᵀ (d × d, row-major), over `count[block]` tokens.
  var sum: [[Double]]
  var products: [[Double]]
  var count: [Int]
  let dims: [Int]

  init(dims: [Int]) {
    self.dims = dims
    sum = dims.map { [Double](repeating: 0, count: $0) }
    products = dims.map { [Double](repeating: 0, count: $0 * $0) }
    count = dims.map { _ in 0 }
  }

  /// Mean and covariance of block `b`'s output.
  func meanAndCovariance(_ b: Int) -> (mean: [Double], covariance: [Double]) {
    let d = dims[b], n = Double(max(count[b], 1))
    let mean = sum[b].map { $0 / n }
    var c = products[b].map { $0 / n }
    for i in 0..<d { for j in 0..<d { c[i * d + j] -= mean[i] * mean[j] } }
    return (mean, c)
  }

  /// Runs `batches` (preprocessed inputs, each `images × model.inputShape` values) through
  /// `model` and gathers the moments of every block.
  static func gather(_ model: Model, batches: [(values: [Float], images: Int)]) throws(CompileError) -> MLPOutputMoments {
    final class Box: @unchecked Sendable {
      var sum: [[Double]], products: [[Double]], count: [Int]
      var middle: [Float] = []
      init(_ m: MLPOutputMoments) { sum = m.sum; products = m.products; count = m.count }
    }
    var m = MLPOutputMoments(dims: model.manifest.blocks.map(\.dim))
    let box = Box(m)
    model.sublayerObserver = { _, beforeMLP, x, rows, dim in
      if beforeMLP { box.middle = Array(UnsafeBufferPointer(start: x, count: rows * dim)) }
    }
    model.blockObserver = { block, x, rows, dim in
      guard box.middle.count == rows * dim else { return }
      var y = [Double](repeating: 0, count: dim)
      var sum = box.sum[block]
      box.products[block].withUnsafeMutableBufferPointer { p in
        for r in 0..<rows {
          for c in 0..<dim { y[c] = Double(x[r * dim + c]) - Double(box.middle[r * dim + c]) }
          for i in 0..<dim {
            sum[i] += y[i]
            let yi = y[i], row = p.baseAddress! + i * dim
            for j in i..<dim { row[j] += yi * y[j] }
          }
        }
      }
      box.sum[block] = sum
      box.count[block] += rows
    }
    defer {
      model.sublayerObserver = nil
      model.blockObserver = nil
    }
    for batch in batches {
      do throws(RuntimeError) { _ = try model.run(batch.values, batch: batch.images) } catch { throw CompileError(error.description) }
    }
    m.sum = box.sum
    m.products = box.products
    m.count = box.count
    // Only the upper triangle was summed.
    for b in m.dims.indices {
      let d = m.dims[b]
      for i in 0..<d { for j in 0..<i { m.products[b][i * d + j] = m.products[b][j * d + i] } }
    }
    return m
  }
}
