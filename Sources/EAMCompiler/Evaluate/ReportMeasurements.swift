/// The report's measurements of the compiled model against the float model: on the held-out
/// images (`--eval`) the output fidelity of the compiled model and of each control, and the
/// per-block drift of the residual stream; without them, the drift on a few calibration images.
enum ReportMeasurements {
  /// Calibration images the drift is measured on when there are no held-out images.
  static let calibrationImages = 4

  /// `weights`: the artifact's weight type, which the compiled model and the controls are
  /// measured with.
  static func measure(_ compiled: ModelDescription, controls: [Control], context: PassContext,
                      weights: (precision: WeightPrecision, quantization: WeightQuantization),
                      into report: inout CompileReport) throws(CompileError)
  {
    let o = context.options, floatModel = context.floatModel
    if !o.evalImages.isEmpty {
      report.evalImages = o.evalImages.count
      let width = floatModel.outputWidth, classifier = context.recognised.architecture.numClasses > 0
      // The compiled model: per-block error and outputs in one pass over the held-out images,
      // which also gives the float model's outputs for every comparison.
      let m = try Evaluation.model(of: compiled, name: "eam", threads: o.threads, source: context.source, weights: weights)
      let drift = try LayerError.measure(m, reference: floatModel, images: o.evalImages,
                                         progress: Progress("evaluating", total: o.evalImages.count))
      let reference = drift.referenceOutputs
      report.layerError = drift.relative
      report.layerErrorImages = "held-out"
      report.fidelity.append(("eam", Fidelity.compare(drift.outputs, reference: reference, width: width, classifier: classifier)))
      for control in controls {
        let c = try Evaluation.model(of: try control.build(), name: control.name, threads: o.threads, source: context.source, weights: weights)
        let progress = Progress("evaluating \(control.name)", total: o.evalImages.count)
        report.fidelity.append((control.name, Fidelity.compare(try Evaluation.outputs(c, images: o.evalImages, progress: progress),
                                                               reference: reference, width: width, classifier: classifier)))
      }
    }
    if report.layerError.isEmpty, !o.calibrationImages.isEmpty {
      // Without held-out images, the drift is still worth seeing: on a few calibration images.
      let images = Array(Calibration.select(o.calibrationImages, options: o.calibration).prefix(Self.calibrationImages))
      let m = try Evaluation.model(of: compiled, name: "eam", threads: o.threads, source: context.source, weights: weights)
      report.layerError = try LayerError.measure(m, reference: floatModel, images: images,
                                                 progress: Progress("measuring per-block error", total: images.count)).relative
      report.layerErrorImages = "calibration"
    }
  }
}
