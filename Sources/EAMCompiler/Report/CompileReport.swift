import EAMFormat
import EAMKernels
import EAMPlatform

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
  /// Forward-pass FLOPs per image of the float model and of the compiled one.
  public var floatFLOPs = 0.0
  public var compiledFLOPs = 0.0
  /// What each pass did, in the order they ran: each is a section of the report under its name.
  public var passes: [PassRecord] = []
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

  /// How the head count was found ("GUESSED: width 384 / head dimension 64; ...").
  public var headCount = ""
  /// Wall-clock seconds of each step, in order.
  public var durations: [(String, Double)] = []
  /// The class token's attention of one head before and after freezing, when at hand.
  public var attentionExample: AttentionExample?
  /// int8 and int4 compiles: every linear layer's type, bytes and error alone.
  public var quantization: [LayerQuantization] = []
  /// The images `quantization`'s errors were measured on: "calibration" or "held-out".
  public var quantizationImages = ""
  public var eamcVersion = EAMVersion.text
  public var machine = "\(Kernels.cpuName), \(ThreadPool.availableCores) cores"

  /// Where the measurements behind every choice are, the report's last method note.
  public static let methodReference = "Why each choice, with the measurements behind it and what else was tried: docs/METHOD.md."

  public init() {}

  /// The report of a compile: its passes' records, the calibration it used (if any) and the
  /// compiled model's frozen fractions; measurements and sizes are added later.
  init(source: String, flags: [String], calibration: CalibrationSummary?, compiled: ModelDescription, passes: [PassRecord]) {
    self.source = source
    self.flags = flags
    if let calibration {
      calibrationImages = calibration.images
      calibrationSetSHA256 = calibration.setHash
      headEntropy = calibration.headEntropy
    }
    frozenFraction = compiled.blocks.map { compiled.frozenFractions(block: $0.index) }
    self.passes = passes
  }

  /// The record of the pass named `name`, if it ran.
  public func pass(_ name: String) -> PassRecord? { passes.first { $0.name == name } }

  /// Method notes: the method in a sentence or two per choice, pass by pass, and where the
  /// measurements are.
  public var methodNotes: [String] { passes.flatMap(\.notes) + [Self.methodReference] }

  public var json: JSON {
    .object([
      ("artifact", .string(artifact)),
      ("source", .string(source)),
      ("flags", .array(flags.map { .string($0) })),
      ("calibration", .object([("images", .int(calibrationImages)), ("set_sha256", .string(calibrationSetSHA256)),
                               ("kernels", .string(kernels))])),
    ] + passes.map { ($0.name, .object($0.settings)) } + [
      ("sizes", .object([("artifact_bytes", .int(artifactBytes)), ("float32_weight_bytes", .int(floatWeightBytes)),
                         ("artifact_mib", .number(Double(artifactBytes) / 1_048_576)),
                         ("float32_weight_mib", .number(Double(floatWeightBytes) / 1_048_576)),
                         ("ratio_to_float32", .number(Double(artifactBytes) / Double(max(floatWeightBytes, 1))))])),
      ("flops", .object([("float_per_image", .number(floatFLOPs)), ("compiled_per_image", .number(compiledFLOPs)),
                         ("saved_fraction", .number(floatFLOPs > 0 ? 1 - compiledFLOPs / floatFLOPs : 0))])),
      ("heads", .string(headCount)),
      ("head_entropy", .array(headEntropy.map { .floats($0) })),
      ("frozen_fraction", .array(frozenFraction.map { .floats($0) })),
      ("fidelity", .object([("held_out_images", .int(evalImages))] + fidelity.map { ($0.0, $0.1.json) }
                           + (evalImages == 0 ? [("note", .string("not measured: no held-out images (--eval DIR)"))] : []))),
      ("layer_error", .object([("images", .string(layerErrorImages)), ("relative", .array(layerError.map { .number($0) }))])),
      ("attention_example", attentionExample?.json ?? .null),
      ("quantization", quantization.isEmpty ? .null : .object([("images", .string(quantizationImages)),
                                                              ("layers", .array(quantization.map(\.json)))])),
      ("eamc", .object([("version", .string(eamcVersion)), ("machine", .string(machine))])),
      ("durations_s", .object(durations.map { ($0.0, .number(($0.1 * 1000).rounded() / 1000)) })),
      ("method_notes", .array(methodNotes.map { .string($0) })),
    ])
  }
}
