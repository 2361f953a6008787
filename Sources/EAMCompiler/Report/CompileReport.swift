import EAMFormat
import EAMKernels

/// `model.report.json`: what the compiler measured and decided, for the user choosing what to ship.
public struct CompileReport: Sendable {
  public var artifact = ""
  public var source = ""
  public var flags: [String] = []
  public var calibrationImages = 0
  public var calibrationSetSHA256 = ""
  /// The kernel variant this compile ran (calibration, unless statistics came from --stats).
  public var kernels = KernelVariant.active.name
  public var evalImages = 0
  public var artifactBytes = 0
  public var floatWeightBytes = 0
  /// `[layer][head]` mean row entropy (nats).
  public var headEntropy: [[Float]] = []
  /// `[layer][head]` fraction of entries frozen.
  public var frozenFraction: [[Float]] = []
  /// Fidelity of the compiled model and of the controls at the same sparsity, on held-out images.
  public var fidelity: [(String, Fidelity)] = []
  /// Per block: relative error of the residual stream against the float model (`LayerError`).
  public var layerError: [Double] = []
  /// Which images `layerError` was measured on: "held-out" (`--eval`) or "calibration".
  public var layerErrorImages = ""
  /// Method notes: what was tried and measured.
  public var methodNotes: [String] = []
  public var sparsity = 0.0
  public var bits = 0
  public var allocation = ""
  public var criterion = ""
  public var frozenValue = ""
  public var entropyResolution: Float = 0

  public init() {}

  public var json: JSON {
    .object([
      ("artifact", .string(artifact)),
      ("source", .string(source)),
      ("flags", .array(flags.map { .string($0) })),
      ("calibration", .object([("images", .int(calibrationImages)), ("set_sha256", .string(calibrationSetSHA256)),
                               ("kernels", .string(kernels))])),
      ("eam", .object([("sparsity", .number(sparsity)), ("attn_bits", .int(bits)), ("allocation", .string(allocation)),
                       ("criterion", .string(criterion)), ("frozen_value", .string(frozenValue)),
                       ("entropy_resolution", .number(Double(entropyResolution)))])),
      ("sizes", .object([("artifact_bytes", .int(artifactBytes)), ("float32_weight_bytes", .int(floatWeightBytes))])),
      ("head_entropy", .array(headEntropy.map { .floats($0) })),
      ("frozen_fraction", .array(frozenFraction.map { .floats($0) })),
      ("fidelity", .object([("held_out_images", .int(evalImages))] + fidelity.map { ($0.0, $0.1.json) })),
      ("layer_error", .object([("images", .string(layerErrorImages)), ("relative", .array(layerError.map { .number($0) }))])),
      ("method_notes", .array(methodNotes.map { .string($0) })),
    ])
  }
}
