import EAMRuntime

/// `--entropy-resolution auto`: the resolution at which EAM measures entry entropies, chosen on
/// calibration images (never the held-out ones) as the candidate whose compiled model follows
/// the float model best.
enum EntropyResolution {
  struct Choice {
    var resolution: Float
    /// `(candidate, mean cosine to the float model)`, in candidate order; empty when nothing
    /// was tried (the resolution was given, or it cannot matter).
    var tried: [(Float, Double)] = []
    /// Calibration images the candidates were compared on.
    var images = 0
  }

  /// Calibration images a choice is made on, at most.
  static let images = 16

  /// The resolution of `options`, or, when it is `auto` and ranks by entropy, the best of
  /// `EAMOptions.resolutionCandidates` (ties to the finer). `compile(r)`: the model EAM makes
  /// at resolution `r`.
  static func choose(_ options: EAMOptions, context: PassContext,
                     compile: (Float) -> ModelDescription) throws(CompileError) -> Choice
  {
    var choice = Choice(resolution: options.entropyResolution ?? EAMOptions.defaultEntropyResolution)
    guard options.entropyResolution == nil, options.sparsity > 0, [.entropy, .weightedEntropy].contains(options.criterion) else { return choice }
    let o = context.options
    let images = Array(Calibration.select(o.calibrationImages, options: o.calibration).prefix(Self.images))
    guard !images.isEmpty else { return choice }
    let floatModel = context.floatModel
    let reference = try Evaluation.outputs(floatModel, images: images)
    for candidate in EAMOptions.resolutionCandidates {
      let m = try Evaluation.model(of: compile(candidate), name: "candidate", threads: o.threads, source: context.source)
      let f = Fidelity.compare(try Evaluation.outputs(m, images: images), reference: reference,
                               width: floatModel.outputWidth, classifier: false)
      choice.tried.append((candidate, f.meanCosine))
    }
    choice.resolution = choice.tried.max { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 > $1.0) }!.0
    choice.images = images.count
    return choice
  }
}
