import EAMRuntime

/// How far a compressed model's residual stream drifts from the float model's, block by block,
/// on the same images: where the error of the frozen maps enters and how it grows.
public struct LayerError: Sendable, Equatable {
  /// Per block: ‖h − h_ref‖ / ‖h_ref‖ over all tokens of an image, averaged over the images.
  public var relative: [Double]
  /// The two models' outputs on the images (image after image), for the output-level fidelity
  /// without running the images again.
  public var outputs: [Float] = []
  public var referenceOutputs: [Float] = []

  /// Runs each image through both models (which must have the same blocks and token layout).
  public static func measure(_ model: Model, reference: Model, images: [String], progress: Progress? = nil)
    throws(CompileError) -> LayerError
  {
    let blocks = reference.manifest.blocks.count
    final class Capture {
      var states: [[Float]]
      var sums: [Double]
      init(blocks: Int) { states = Array(repeating: [], count: blocks); sums = Array(repeating: 0, count: blocks) }
    }
    let capture = Capture(blocks: blocks)
    reference.blockObserver = { block, hidden, rows, dim in
      capture.states[block] = Array(UnsafeBufferPointer(start: hidden, count: rows * dim))
    }
    model.blockObserver = { block, hidden, rows, dim in
      let ref = capture.states[block]
      guard ref.count == rows * dim else { return }
      var diff = 0.0, norm = 0.0
      for i in 0..<(rows * dim) {
        let r = Double(ref[i]), e = Double(hidden[i]) - r
        diff += e * e
        norm += r * r
      }
      capture.sums[block] += norm > 0 ? (diff / norm).squareRoot() : diff.squareRoot()
    }
    defer {
      reference.blockObserver = nil
      model.blockObserver = nil
    }
    var result = LayerError(relative: [])
    for image in images {
      result.referenceOutputs += try Evaluation.outputs(reference, images: [image], batch: 1)
      result.outputs += try Evaluation.outputs(model, images: [image], batch: 1)
      progress?.advance()
    }
    progress?.finish()
    result.relative = capture.sums.map { images.isEmpty ? 0 : $0 / Double(images.count) }
    return result
  }
}
