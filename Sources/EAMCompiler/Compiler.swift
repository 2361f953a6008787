import EAMFormat
import EAMIngest

#if canImport(Glibc)
import Glibc
#endif

/// A compile failure: one line naming the file and what is wrong.
public struct CompileError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Options of `eamc compile`.
public struct CompileOptions: Sendable {
  public var precision: WeightPrecision = .f32
  /// int8 and int4 (`--group-size`, `--keep-float`).
  public var quantization = WeightQuantization()
  /// Every section stored uncompressed (`--device-layout`), for runtimes built without zstd.
  public var deviceLayout = false
  public var overrides = ModelOverrides()
  /// EAM settings; nil compiles without attention compression.
  public var eam: EAMOptions?
  /// Attention-layer removal; nil removes none.
  public var removal: AttentionRemovalOptions?
  /// Compact FFN (fc2 factorised); nil keeps the MLPs whole.
  public var compactFFN: CompactFFNOptions?
  /// Hallucinated heads; nil computes every head's map.
  public var hallucination: HallucinationOptions?
  /// Calibration images (used when `statisticsFiles` is empty).
  public var calibrationImages: [String] = []
  public var calibration = CalibrationOptions()
  /// `.eamstats` files (shards) to merge instead of calibrating.
  public var statisticsFiles: [String] = []
  /// Held-out images for the report's fidelity figures (never the calibration images).
  public var evalImages: [String] = []
  /// Where the report goes; default: beside the artifact, `NAME.report.json`.
  public var reportPath: String?
  public var threads: Int?
  /// How strictly the checkpoint is read (tensor budget, non-finite weights, pickle globals).
  public var reading = ReadOptions()
  /// Called once the checkpoint is read and recognised, before any long work: the command line
  /// prints the effective configuration here, and may still refuse it.
  public var announce: (@Sendable (Checkpoint, ModelDescription) throws(CompileError) -> Void)?
  public init() {}

  /// Whether the compile writes a report: with passes, or for integer weights measured on images
  /// (each layer's error, the artifact's fidelity).
  public func writesReport(passes: [any CompilerPass]) -> Bool {
    !passes.isEmpty || (precision.isInteger && (!calibrationImages.isEmpty || !evalImages.isEmpty))
  }

  /// How int4 codes are chosen in effect: GPTQ needs calibration images, else round to nearest.
  public var int4Rounding: WeightQuantization.Int4Rounding {
    quantization.rounding == .gptq && !calibrationImages.isEmpty ? .gptq : .nearest
  }

  /// The flags as recorded in the manifest, in a fixed order.
  public var normalisedArguments: [String] {
    var args = ["--weights=\(precision.rawValue)"]
    if precision.isInteger {
      args.append("--keep-float=" + quantization.keepFloat.joined(separator: ","))
      // Recorded when not the behaviour of older compilers, so that their artifacts stay identical.
      if precision == .int8, quantization.activation == .static { args.append("--act-quant=static") }
      if precision == .int4 {
        args.append("--group-size=\(quantization.groupSize)")
        if int4Rounding == .gptq { args.append("--rounding=gptq") }
      }
    }
    if deviceLayout { args.append("--device-layout") }
    if let h = overrides.heads { args.append("--heads=\(h)") }
    if let i = overrides.imageSize { args.append("--image-size=\(i)") }
    if let r = overrides.resizeShorterSide { args.append("--resize=\(r)") }
    if let c = overrides.cropSize { args.append("--crop=\(c)") }
    if let m = overrides.mean { args.append("--mean=" + m.map { "\($0)" }.joined(separator: ",")) }
    if let s = overrides.std { args.append("--std=" + s.map { "\($0)" }.joined(separator: ",")) }
    if let r = removal { args += ["--remove-attention=\(r.argument)", "--removal-mode=\(r.mode.rawValue)"] }
    if let h = hallucination { args.append("--hallucinate-heads=\(h.fraction)") }
    if let c = compactFFN { args.append("--compact-ffn=\(c.rankFraction)") }
    if let e = eam {
      args += ["--sparsity=\(e.sparsity)", "--attn-bits=\(e.bits)", "--select=\(e.criterion.rawValue)",
               "--budget=\(e.allocation.rawValue)", "--frozen-value=\(e.frozenValue.rawValue)",
               "--entropy-resolution=" + (e.entropyResolution.map { "\($0)" } ?? "auto")]
      if e.granularity != .entry { args.append("--granularity=\(e.granularity.rawValue)") }
    }
    return args
  }
}

/// What a compile did, for the command line.
public struct CompileSummary: Sendable {
  public var model: ModelDescription
  public var origin: String
  public var format: ContainerFormat
  public var artifactBytes: Int
  public var floatBytes: Int
  /// The report written beside the artifact (calibrated compiles).
  public var report: CompileReport?
  public var reportPath: String?
}

/// The compiler: load → recognise → (statistics) → passes → emit → write.
public enum Compiler {
  /// Reads a checkpoint and recognises its architecture.
  public static func load(_ path: String, overrides: ModelOverrides, reading: ReadOptions = ReadOptions())
    throws(CompileError) -> (Checkpoint, ModelDescription)
  {
    let checkpoint: Checkpoint
    do throws(IngestError) {
      checkpoint = try CheckpointReader.read(path: path, options: reading)
    } catch {
      throw CompileError(error.description)
    }
    do throws(ModelError) {
      var model = try Recognition.describe(checkpoint, overrides: overrides)
      if model.architecture.family == .swin {
        model.headCount = .shapes
      } else if overrides.heads != nil {
        model.headCount = .flag
      } else if let (heads, source) = HeadCount.fromMetadata(checkpoint, path: path, width: model.architecture.embedDim) {
        var o = overrides
        o.heads = heads
        model = try Recognition.describe(checkpoint, overrides: o)
        model.notes.removeAll { $0.hasPrefix("heads:") }
        model.headCount = .metadata(source)
      }
      model.notes = checkpoint.notes + model.notes
      return (checkpoint, model)
    } catch {
      throw CompileError(error.at(path).description)
    }
  }

  /// Compiles with the passes the options select (`Pipeline.passes(for:)`).
  public static func compile(_ input: String, to output: String, options: CompileOptions) throws(CompileError) -> CompileSummary {
    try compile(input, to: output, options: options, passes: Pipeline.passes(for: options))
  }

  /// Compiles with `passes`, run in order; a compile with passes writes a report. Outputs that
  /// are inputs (or each other) are refused before any work; the artifact and the report appear
  /// together or not at all.
  public static func compile(_ input: String, to output: String, options: CompileOptions, passes: [any CompilerPass])
    throws(CompileError) -> CompileSummary
  {
    // `--report NAME.html`: the HTML page, and the JSON beside it as NAME.json.
    let requested = options.writesReport(passes: passes) ? options.reportPath ?? RunFiles.defaultReport(for: output) : nil
    let html = requested?.hasSuffix(".html") ?? false
    let jsonPath = requested.map { html ? String($0.dropLast(5)) + ".json" : $0 }
    let reportOutputs = (jsonPath.map { [OutputSet.File("report", $0)] } ?? []) + (html ? [.init("HTML report", requested!)] : [])
    try RunFiles.check(outputs: [.init("artifact", output)] + reportOutputs, inputs: options.inputFiles(checkpoint: input))
    var clock = StepClock()
    let (checkpoint, recognised) = try load(input, overrides: options.overrides, reading: options.reading)
    clock.lap("read and recognise")
    try options.announce?(checkpoint, recognised)
    var settings = emitSettings(checkpoint, source: input, options: options)
    if case .metadata = recognised.headCount, let heads = recognised.blocks.first?.heads {
      // Heads read from the checkpoint are recorded like --heads: `inspect` tells them from a guess.
      settings.arguments.insert("--heads=\(heads)", at: 1)
    }
    var model = recognised
    var report: CompileReport?
    if requested != nil {
      (model, report) = try transform(recognised, passes: passes, options: options, source: input, settings: &settings,
                                      clock: &clock)
    } else {
      try gatherQuantizationInputs(model, recognised: recognised, options: options, source: input, settings: &settings,
                                   clock: &clock)
    }
    let bytes = try emit(model, settings: settings, output: output)
    var files = [(path: output, bytes: bytes)]
    clock.lap("emit")
    var reportPath: String?
    if var r = report, let path = jsonPath {
      r.artifact = output
      r.artifactBytes = bytes.count
      r.floatWeightBytes = recognised.parameterCount * 4
      r.floatFLOPs = ModelCost(recognised).flops
      r.compiledFLOPs = ModelCost(model).flops
      r.headCount = recognised.headCount.describe(width: recognised.architecture.embedDim)
      r.durations = clock.laps
      report = r
      files.append((path, Array((r.json.pretty + "\n").utf8)))
      if html, let page = requested { files.append((page, Array(HTMLReport.render(r).utf8))) }
      reportPath = html ? requested : path
    }
    do throws(AtomicFile.WriteError) { try OutputSet.commit(files) } catch { throw CompileError(error.description) }
    return CompileSummary(model: model, origin: checkpoint.origin, format: checkpoint.format,
                          artifactBytes: bytes.count, floatBytes: recognised.parameterCount * 4, report: report,
                          reportPath: reportPath)
  }

  /// The passes over the recognised model, with the statistics they need, and the report of what
  /// they did and how the result measures against the float model.
  static func transform(_ recognised: ModelDescription, passes: [any CompilerPass], options: CompileOptions,
                        source: String, settings: inout EmitSettings, clock: inout StepClock)
    throws(CompileError) -> (ModelDescription, CompileReport)
  {
    for pass in passes { try pass.check(recognised, source: source) }
    let floatModel = try Evaluation.model(of: recognised, name: source, threads: options.threads, source: source)
    let statistics = try StatisticsSource.statistics(for: passes, model: recognised, floatModel: floatModel,
                                                     options: options, sourceSHA256: settings.sourceSHA256)
    if statistics != nil { clock.lap(options.statisticsFiles.isEmpty ? "calibrate" : "merge statistics") }
    let context = PassContext(source: source, options: options, recognised: recognised, floatModel: floatModel,
                              statistics: statistics)
    let names = passes.map(\.name).joined(separator: ", ")
    var outcome = Pipeline.Outcome(model: recognised, records: [], controls: [])
    if !passes.isEmpty {
      Progress.note("passes (\(names)): running")
      outcome = try Pipeline.run(passes, on: recognised, context: context)
      clock.lap("passes")
      Progress.note("passes (\(names)): done in \(Progress.seconds(clock.laps.last?.1 ?? 0))")
    }
    try gatherQuantizationInputs(outcome.model, recognised: recognised, options: options, source: source,
                                 settings: &settings, clock: &clock, statistics: statistics)
    let calibration = statistics.map { CalibrationSummary($0, model: recognised) }
    if let calibration { settings.record(calibration, compiled: outcome.model) }
    var report = CompileReport(source: source, flags: options.normalisedArguments, calibration: calibration,
                               compiled: outcome.model, passes: outcome.records)
    report.attentionExample = AttentionExample.pick(compiled: outcome.model, statistics: statistics)
    if options.precision.isInteger {
      // Each layer's error costs a forward pass per layer: measured when the compile measures
      // fidelity (--eval), on calibration images where there are some.
      let calibration = Calibration.select(options.calibrationImages, options: options.calibration)
      let images = options.evalImages.isEmpty ? []
        : Array((calibration.isEmpty ? options.evalImages : calibration).prefix(QuantizationSensitivity.images))
      report.quantization = try QuantizationSensitivity.measure(outcome.model, precision: options.precision,
                                                                quantization: settings.quantization, images: images,
                                                                threads: options.threads, source: source)
      report.quantizationImages = images.isEmpty ? "" : calibration.isEmpty ? "held-out" : "calibration"
      clock.lap("measure each layer's quantization error")
    }
    try ReportMeasurements.measure(outcome.model, controls: outcome.controls, context: context,
                                   weights: (settings.precision, settings.quantization), into: &report)
    clock.lap("measure (held-out images, controls)")
    return (outcome.model, report)
  }

  /// What int4 GPTQ rounding and static int8 activations measure on the calibration images,
  /// on the model as compiled.
  static func gatherQuantizationInputs(_ model: ModelDescription, recognised: ModelDescription, options: CompileOptions,
                                       source: String, settings: inout EmitSettings, clock: inout StepClock,
                                       statistics: AttentionStatistics? = nil) throws(CompileError) {
    if let (gram, memo) = try LinearInputGram.forCompile(model, options: options, source: source) {
      settings.quantization.inputGram = gram
      settings.quantization.memo = memo
      clock.lap("int4 rounding inputs (GPTQ)")
    }
    if let range = try LinearInputRange.forCompile(model, recognised: recognised, options: options, source: source,
                                                   sourceSHA256: settings.sourceSHA256, statistics: statistics) {
      settings.quantization.inputRange = range
      clock.lap("int8 activation ranges")
    }
  }

  static func emit(_ model: ModelDescription, settings: EmitSettings, output: String) throws(CompileError) -> [UInt8] {
    do throws(FormatError) {
      return try Emitter.artifact(for: model, settings: settings)
    } catch {
      throw CompileError("\(output): \(error.message)")
    }
  }

  static func write(_ bytes: [UInt8], to path: String) throws(CompileError) {
    do throws(AtomicFile.WriteError) {
      try AtomicFile.write(bytes, to: path)
    } catch {
      throw CompileError(error.description)
    }
  }

  /// What the manifest records about the compile besides the model.
  static func emitSettings(_ checkpoint: Checkpoint, source: String, options: CompileOptions) -> EmitSettings {
    var settings = EmitSettings()
    settings.precision = options.precision
    settings.quantization = options.quantization
    settings.compress = !options.deviceLayout
    settings.arguments = options.normalisedArguments
    settings.sourceName = source.split(separator: "/").last.map(String.init) ?? source
    settings.sourceFormat = checkpoint.format.rawValue
    settings.sourceSHA256 = (try? FileHash.sha256(path: source)) ?? ""
    return settings
  }
}

extension Compiler {
  /// `eamc calibrate`: statistics alone (one shard, or all images), written atomically.
  public static func calibrate(_ input: String, images: [String], options: CompileOptions, to output: String)
    throws(CompileError) -> AttentionStatistics
  {
    try RunFiles.check(outputs: [.init("statistics file", output)],
                       inputs: [.init("checkpoint", input)] + images.map { .init("calibration image", $0) })
    let (checkpoint, model) = try load(input, overrides: options.overrides, reading: options.reading)
    try options.announce?(checkpoint, model)
    let floatModel = try Evaluation.model(of: model, name: input, threads: options.threads, source: input)
    let selected = Calibration.select(images, options: options.calibration)
    guard !selected.isEmpty else { throw CompileError("no calibration images in this shard") }
    let sha = (try? FileHash.sha256(path: input)) ?? ""
    let stats = try Calibration.run(model, floatModel: floatModel, images: selected, sourceSHA256: sha,
                                    options: options.calibration)
    try write(stats.encoded(), to: output)
    return stats
  }
}

/// Hashes of whole files.
enum FileHash {
  struct ReadError: Error {}

  static func sha256(path: String) throws(ReadError) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ReadError() }
    defer { close(fd) }
    var h = SHA256()
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 { throw ReadError() }
      if n == 0 { break }
      chunk.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return h.finalizeHex()
  }
}
