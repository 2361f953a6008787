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
  public var overrides = ModelOverrides()
  /// EAM settings; nil compiles without attention compression.
  public var eam: EAMOptions?
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
  public init() {}

  /// The flags as recorded in the manifest, in a fixed order.
  public var normalisedArguments: [String] {
    var args = ["--weights=\(precision.rawValue)"]
    if let h = overrides.heads { args.append("--heads=\(h)") }
    if let i = overrides.imageSize { args.append("--image-size=\(i)") }
    if let r = overrides.resizeShorterSide { args.append("--resize=\(r)") }
    if let c = overrides.cropSize { args.append("--crop=\(c)") }
    if let m = overrides.mean { args.append("--mean=" + m.map { "\($0)" }.joined(separator: ",")) }
    if let s = overrides.std { args.append("--std=" + s.map { "\($0)" }.joined(separator: ",")) }
    if let e = eam {
      args += ["--sparsity=\(e.sparsity)", "--attn-bits=\(e.bits)", "--select=\(e.criterion.rawValue)",
               "--budget=\(e.allocation.rawValue)", "--frozen-value=\(e.frozenValue.rawValue)",
               "--entropy-resolution=" + (e.entropyResolution.map { "\($0)" } ?? "auto")]
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

/// The compiler's pipeline: ingest → model → (calibrate → compress) → emit.
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
      var description = try Recognition.describe(checkpoint, overrides: overrides)
      description.notes = checkpoint.notes + description.notes
      return (checkpoint, description)
    } catch {
      throw CompileError(error.at(path).description)
    }
  }

  public static func compile(_ input: String, to output: String, options: CompileOptions) throws(CompileError) -> CompileSummary {
    let reportPath = options.eam == nil ? nil : options.reportPath ?? RunFiles.defaultReport(for: output)
    try RunFiles.check(outputs: [.init("artifact", output)] + (reportPath.map { [.init("report", $0)] } ?? []),
                       inputs: options.inputFiles(checkpoint: input))
    let (checkpoint, loaded) = try load(input, overrides: options.overrides, reading: options.reading)
    var model = loaded
    var settings = EmitSettings()
    settings.precision = options.precision
    settings.arguments = options.normalisedArguments
    settings.sourceName = input.split(separator: "/").last.map(String.init) ?? input
    settings.sourceFormat = checkpoint.format.rawValue
    settings.sourceSHA256 = (try? FileHash.sha256(path: input)) ?? ""
    var report: CompileReport?
    if let eam = options.eam {
      (model, report) = try Compression.apply(eam, to: loaded, settings: &settings, options: options, source: input)
    }
    let bytes: [UInt8]
    do throws(FormatError) {
      bytes = try Emitter.artifact(for: model, settings: settings)
    } catch {
      throw CompileError("\(output): \(error.message)")
    }
    var files = [(path: output, bytes: bytes)]
    if var r = report, let path = reportPath {
      r.artifact = output
      r.artifactBytes = bytes.count
      r.floatWeightBytes = loaded.parameterCount * 4
      report = r
      files.append((path, Array((r.json.text + "\n").utf8)))
    }
    do throws(AtomicFile.WriteError) { try OutputSet.commit(files) } catch { throw CompileError(error.description) }
    return CompileSummary(model: model, origin: checkpoint.origin, format: checkpoint.format,
                          artifactBytes: bytes.count, floatBytes: loaded.parameterCount * 4, report: report,
                          reportPath: reportPath)
  }
}

extension Compiler {
  /// `eamc calibrate`: statistics alone (one shard, or all images), written atomically.
  public static func calibrate(_ input: String, images: [String], options: CompileOptions, to output: String)
    throws(CompileError) -> AttentionStatistics
  {
    try RunFiles.check(outputs: [.init("statistics file", output)],
                       inputs: [.init("checkpoint", input)] + images.map { .init("calibration image", $0) })
    let (_, model) = try load(input, overrides: options.overrides, reading: options.reading)
    let bytes: [UInt8]
    do throws(FormatError) { bytes = try Emitter.artifact(for: model, settings: EmitSettings()) } catch {
      throw CompileError("\(input): \(error.message)")
    }
    let floatModel = try Evaluation.model(bytes: bytes, name: input, threads: options.threads)
    let selected = Calibration.select(images, options: options.calibration)
    guard !selected.isEmpty else { throw CompileError("no calibration images in this shard") }
    let sha = (try? FileHash.sha256(path: input)) ?? ""
    let stats = try Calibration.run(model, floatModel: floatModel, images: selected, sourceSHA256: sha,
                                    options: options.calibration)
    do throws(AtomicFile.WriteError) { try AtomicFile.write(stats.encoded(), to: output) } catch {
      throw CompileError(error.description)
    }
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
