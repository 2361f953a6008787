import EAMFormat
import EAMIngest
import EAMKernels
import EAMPlatform

/// The effective configuration of a compile or calibration, defaults included, as the command
/// line prints it before any long work: what was read, how heads were found, preprocessing,
/// images, threads and kernels.
public struct Configuration {
  public var command: String
  public var checkpointPath: String
  public var checkpoint: Checkpoint
  public var model: ModelDescription
  public var options: CompileOptions
  /// Which preprocessing values the user gave (the others are the family's defaults).
  public var given: Set<String> = []
  /// Calibration images (after --calib-count and --shard) and the folder they came from.
  public var calibrationFolder: String?
  public var evalFolder: String?
  public var outputs: [String] = []
  /// Lines about what was refused or changed ("--image-size ignored: ...").
  public var remarks: [String] = []

  public init(command: String, checkpointPath: String, checkpoint: Checkpoint, model: ModelDescription,
              options: CompileOptions) {
    self.command = command
    self.checkpointPath = checkpointPath
    self.checkpoint = checkpoint
    self.model = model
    self.options = options
  }

  /// Threads the runtime will use.
  public var threads: Int { options.threads ?? ThreadPool.availableCores }

  var a: Manifest.Architecture { model.architecture }

  var headsText: String {
    let heads = a.family == .swin ? "\(a.stageHeads) per stage" : "\(model.blocks.first?.heads ?? 0) per block"
    return "\(heads) (\(model.headCount.describe(width: a.embedDim)))"
  }

  var modelText: String {
    let output = a.numClasses > 0 ? "classifier, \(a.numClasses) classes" : "features, \(a.embedDim) values"
    return "\(a.family.name), \(model.blocks.count) blocks, width \(a.embedDim), \(Sizes.millions(model.parameterCount)) parameters, image \(a.imageSize), patch \(a.patchSize), \(model.tokens) tokens, \(output)"
  }

  var preprocessingText: String {
    let p = model.preprocessing
    func mark(_ key: String) -> String { given.contains(key) ? "" : " (default)" }
    return "resize \(p.resizeShorterSide)\(mark("resize")) \(p.interpolation == .bilinear ? "bilinear" : "bicubic"), crop \(p.cropSize), mean \(p.mean.map { "\($0)" }.joined(separator: ","))\(mark("mean")), std \(p.std.map { "\($0)" }.joined(separator: ","))\(mark("std"))"
  }

  var calibrationImages: [String] { Calibration.select(options.calibrationImages, options: options.calibration) }

  var eamText: String? {
    guard let e = options.eam else { return nil }
    let resolution = e.entropyResolution.map { r in r > 0 && (1 / r).rounded() == 1 / r ? "1/\(Int(1 / r))" : "\(r)" } ?? "auto"
    return "sparsity \(e.sparsity), \(e.bits)-bit frozen values, selection \(e.criterion.rawValue), budget \(e.allocation.rawValue), frozen value \(e.frozenValue.rawValue), entropy resolution \(resolution)" + (e.granularity.shape.map { ", whole \($0.queries)×\($0.keys) tiles" } ?? "")
  }

  var weightsText: String {
    let q = options.quantization
    switch options.precision {
    case .f32, .f16: return options.precision.rawValue
    case .int8:
      let activations = q.activation == .static
        ? "activations with one range per layer from \(Calibration.select(options.calibrationImages, options: options.calibration).count) calibration images"
        : "activations per token at run time"
      return "int8 (per output channel; \(activations)), float: " + keptText
    case .int4:
      let rounding = options.int4Rounding == .gptq
        ? "GPTQ rounding against \(Calibration.select(options.calibrationImages, options: options.calibration).count) calibration images"
        : "clipped round-to-nearest"
      return "int4 (groups of \(q.groupSize) k, binary16 scales, \(rounding)), float: " + keptText
    }
  }

  var keptText: String {
    options.quantization.keepFloat.isEmpty ? "none" : options.quantization.keepFloat.joined(separator: ",")
  }

  /// The lines printed before the work starts.
  public var lines: [String] {
    var out = ["eamc \(command): \(checkpointPath) (\(checkpoint.format.rawValue), \(checkpoint.origin))"]
    out.append("  model:          \(modelText)")
    out.append("  heads:          \(headsText)")
    out.append("  preprocessing:  \(preprocessingText)")
    if command == "compile" { out.append("  weights:        \(weightsText)") }
    if let r = options.removal {
      let which: String
      switch r.selection {
      case .blocks(let b): which = "blocks " + b.map(String.init).joined(separator: ",")
      case .auto(let k): which = "the \(k) cheapest blocks (ranked on up to \(r.rankingImages) calibration images)"
      }
      out.append("  remove attn:    \(which), mode \(r.mode.rawValue)")
    }
    if let eam = eamText { out.append("  EAM:            \(eam)") }
    if !options.statisticsFiles.isEmpty {
      out.append("  statistics:     \(options.statisticsFiles.count) file(s): \(options.statisticsFiles.joined(separator: " "))")
    }
    if let folder = calibrationFolder {
      let shard = options.calibration.shard.map { ", shard \($0.index)/\($0.count)" } ?? ""
      let role = options.statisticsFiles.isEmpty ? "" : " (not calibrated again)"
      out.append("  calibration:    \(calibrationImages.count) of \(options.calibrationImages.count) images in \(folder)\(shard), batch \(options.calibration.batch)\(role)")
    }
    if let folder = evalFolder { out.append("  evaluation:     \(options.evalImages.count) held-out images in \(folder)") }
    out.append("  threads:        \(threads), kernels \(KernelVariant.active.name)")
    if !outputs.isEmpty { out.append("  output:         \(outputs.joined(separator: ", "))") }
    for note in model.notes where !note.hasPrefix("heads:") { out.append("  note:           \(note)") }
    for r in remarks { out.append("  note:           \(r)") }
    if Progress.verbosity >= .verbose {
      if !checkpoint.ignored.isEmpty { out.append("  ignored:        " + checkpoint.ignored.joined(separator: "; ")) }
      if !checkpoint.metadata.isEmpty {
        out.append("  metadata:       " + checkpoint.metadata.sorted { $0.key < $1.key }.prefix(20).map { "\($0.key)=\($0.value)" }.joined(separator: " "))
      }
    }
    return out
  }

  public var json: JSON {
    let p = model.preprocessing
    var fields: [(String, JSON)] = [
      ("command", .string(command)),
      ("checkpoint", .object([("path", .string(checkpointPath)), ("format", .string(checkpoint.format.rawValue)),
                              ("origin", .string(checkpoint.origin))])),
      ("family", .string(a.family.name)), ("blocks", .int(model.blocks.count)), ("width", .int(a.embedDim)),
      ("parameters", .int(model.parameterCount)), ("image_size", .int(a.imageSize)), ("patch_size", .int(a.patchSize)),
      ("tokens", .int(model.tokens)), ("num_classes", .int(a.numClasses)),
      ("heads", .object([("per_block", .array(model.blocks.map { .int($0.heads) })),
                         ("source", .string(model.headCount.describe(width: a.embedDim))),
                         ("guessed", .bool(model.headCount.isGuess))])),
      ("preprocessing", .object([("resize_shorter_side", .int(p.resizeShorterSide)), ("crop_size", .int(p.cropSize)),
                                 ("mean", .floats(p.mean)), ("std", .floats(p.std)),
                                 ("given", .array(given.sorted().map { .string($0) }))])),
      ("weights", .string(options.precision.rawValue)),
      ("threads", .int(threads)), ("kernels", .string(KernelVariant.active.name)),
      ("flags", .array(options.normalisedArguments.map { .string($0) })),
    ]
    if let folder = calibrationFolder {
      fields.append(("calibration", .object([("folder", .string(folder)), ("images", .int(calibrationImages.count)),
                                             ("batch", .int(options.calibration.batch))])))
    }
    if !options.statisticsFiles.isEmpty { fields.append(("statistics", .array(options.statisticsFiles.map { .string($0) }))) }
    if let folder = evalFolder {
      fields.append(("evaluation", .object([("folder", .string(folder)), ("images", .int(options.evalImages.count))])))
    }
    fields.append(("notes", .array((model.notes.filter { !$0.hasPrefix("heads:") } + remarks).map { .string($0) })))
    return .object(fields)
  }
}

/// Sizes for people: MiB with two decimals, ratios to the float32 model.
public enum Sizes {
  public static func mib(_ bytes: Int) -> String { EAMCompiler.mib(bytes) }

  /// "22.1 M".
  public static func millions(_ n: Int) -> String {
    "\(Double(Int((Double(n) / 1e5).rounded())) / 10) M"
  }

  /// "12.40 MiB (50.1% of the float32 weights, 43.10 MiB)".
  public static func withRatio(_ bytes: Int, float: Int) -> String {
    "\(mib(bytes)) (\(percent(Double(bytes) / Double(max(float, 1)))) of the float32 weights, \(mib(float)))"
  }
}
