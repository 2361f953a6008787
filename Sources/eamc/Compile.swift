import ArgumentParser
import EAMCompiler
import EAMIngest
import Foundation

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile a checkpoint (.pth/.pt/.bin/.ckpt, .safetensors, .npz) into an .eam artifact.",
    discussion: """
      Everything is checked before the long work starts (the output folders, every calibration \
      and held-out image decoded and hashed, held-out images that are calibration images \
      refused), then the effective configuration is printed, defaults included.

      Examples:
        eamc compile deit_small.pth -o deit_small.eam --weights f16
        eamc compile dinov2.pth -o dinov2.eam20.eam --calib calib/ \\
          --sparsity 0.2 --attn-bits 2 --eval heldout/ --report dinov2.report.html
        eamc compile dinov2.pth -o dinov2.eam20.eam --stats stats.*.eamstats \\
          --sparsity 0.2
        eamc compile dinov2.pth -o x.eam --calib calib/ --sparsity 0.2 --dry-run
      \(ExitStatus.help)
      """)

  @Argument(help: "The checkpoint to compile.")
  var checkpoint: String

  @Option(name: .shortAndLong, help: ArgumentHelp("The artifact to write (its folder must exist).", valueName: "file.eam"))
  var output: String?

  @Option(help: ArgumentHelp("Stored weight type of the linear layers: f32, f16, int8 (symmetric per output channel; activations quantized per token at run time) or int4 (weight-only, groups of --group-size k, binary16 scales).", valueName: "type"))
  var weights = WeightPrecision.f32

  @Option(name: .customLong("group-size"), parsing: .unconditional, help: ArgumentHelp("int4: k per scale (default 32).", valueName: "k"))
  var groupSize: Int?

  @Option(name: .customLong("keep-float"), parsing: .unconditional, help: ArgumentHelp("int8/int4: linear layers that stay f32, comma-separated: a layer (blocks.3.mlp.fc2), a leading part (blocks.3, patch_embed, head) or a last part (fc2, attn.qkv); 'none' for none (default: \(WeightQuantization.defaultKeepFloat.joined(separator: ","))).", valueName: "list"))
  var keepFloat: String?

  @Option(help: ArgumentHelp("int4: how codes are chosen: gptq (error feedback against each layer's inputs on the --calib images; the default when --calib is given) or nearest (each group clipped, then rounded to nearest; the default without images).", valueName: "mode"))
  var rounding: WeightQuantization.Int4Rounding?

  @Option(name: .customLong("act-quant"), help: ArgumentHelp("int8: how each layer's input becomes codes: dynamic (per token at run time, the default) or static (one range per layer, measured on the --calib images; no per-token pass at run time).", valueName: "mode"))
  var actQuant: WeightQuantization.ActivationQuantization?

  @Flag(name: .customLong("device-layout"), help: "Store every section uncompressed (no zstd), as device runtimes built without zstd need (the frozen maps grow; weights never compress).")
  var deviceLayout = false

  @Option(parsing: .unconditional, help: ArgumentHelp("Attention heads per block (default: the checkpoint's metadata, else a guess of width / 64, said so).", valueName: "n"))
  var heads: Int?

  @Option(name: .customLong("image-size"), parsing: .unconditional, help: ArgumentHelp("Input image side for checkpoints that do not record it (Swin; default 224). Refused where the checkpoint fixes it.", valueName: "pixels"))
  var imageSize: Int?

  @Option(parsing: .unconditional, help: ArgumentHelp("Preprocessing: resize the shorter side to this many pixels (default: crop / 0.875).", valueName: "pixels"))
  var resize: Int?

  @Option(parsing: .unconditional, help: ArgumentHelp("Preprocessing: mean per RGB channel (default: ImageNet's 0.485,0.456,0.406).", valueName: "r,g,b"))
  var mean: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("Preprocessing: standard deviation per RGB channel (default: ImageNet's 0.229,0.224,0.225).", valueName: "r,g,b"))
  var std: String?

  @OptionGroup(title: "EAM (attention-map compression)") var eam: EAMFlags

  @OptionGroup(title: "Attention-layer removal and compact FFN") var passFlags: PassFlags

  @Option(help: ArgumentHelp(stringLiteral: MemoryBudget.help))
  var memoryBudget: String?

  @Option(help: ArgumentHelp("Held-out images (a folder, none of them calibration images) for the report's fidelity and the controls.", valueName: "folder"))
  var eval: String?

  @Flag(help: "Proceed although held-out images are also calibration images (their figures are then not held-out).")
  var allowOverlap = false

  @Option(help: ArgumentHelp("The report: NAME.json, or NAME.html (one self-contained page; the JSON is written beside it as NAME.json). Default: beside the artifact, NAME.report.json.", valueName: "file"))
  var report: String?

  @Flag(help: "Read a pickle that names globals known to run code, start programs or touch files (os.system, builtins.eval, ...): kept inert, never called.")
  var allowUnsafePickle = false

  @Flag(help: "Show what would be compiled (architecture, what would be frozen, estimated size and FLOPs) and write nothing.")
  var dryRun = false

  @Flag(help: "Print one JSON object on stdout (configuration, artifact, report); messages go to stderr.")
  var json = false

  @OptionGroup(title: "Output") var log: LogFlags

  func run() throws {
    log.apply(json: json)
    var options = CompileOptions()
    options.precision = weights
    options.deviceLayout = deviceLayout
    Check.atLeastOne(groupSize, "--group-size")
    if groupSize != nil, weights != .int4 { usage("--group-size is for --weights int4") }
    if keepFloat != nil, !weights.isInteger { usage("--keep-float is for --weights int8 or int4") }
    if rounding != nil, weights != .int4 { usage("--rounding is for --weights int4") }
    if rounding == .gptq, eam.calib == nil { usage("--rounding gptq rounds against calibration inputs: give --calib FOLDER (or --rounding nearest)") }
    if let rounding { options.quantization.rounding = rounding }
    if actQuant != nil, weights != .int8 { usage("--act-quant is for --weights int8") }
    if actQuant == .static, eam.calib == nil, eam.stats.isEmpty {
      usage("--act-quant static measures each layer's input range on calibration images: give --calib FOLDER or --stats FILE...")
    }
    if let actQuant { options.quantization.activation = actQuant }
    if let groupSize { options.quantization.groupSize = groupSize }
    if let keepFloat {
      let items = keepFloat.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      options.quantization.keepFloat = items == ["none"] ? [] : items
    }
    Check.atLeastOne(heads, "--heads")
    Check.atLeastOne(imageSize, "--image-size")
    Check.atLeastOne(resize, "--resize")
    options.overrides.heads = heads
    options.overrides.imageSize = imageSize
    options.overrides.resizeShorterSide = resize
    options.overrides.mean = mean.map { triple($0, "--mean") }
    options.overrides.std = std.map { triple($0, "--std") }
    passFlags.apply(to: &options, calibrating: eam.calib != nil)
    eam.apply(to: &options, otherPassesUseCalib: options.removal != nil || options.compactFFN != nil || options.hallucination != nil
                || weights.isInteger, staticActivations: weights == .int8 && actQuant == .static)
    if let memoryBudget {
      do throws(CompileError) { options.calibration.memoryBudget = try MemoryBudget.flag(memoryBudget) } catch { fail(error) }
    }
    if options.eam == nil && options.removal == nil && options.compactFFN == nil && options.hallucination == nil && !weights.isInteger {
      if eval != nil { usage("--eval measures a compressing compile (it needs --sparsity, --remove-attention or --weights int8/int4); compare any artifact with `eamc eval`") }
      if report != nil { usage("--report is written for compressing compiles (--sparsity, --remove-attention, --weights int8/int4 with --calib or --eval); `eamc inspect` describes any artifact") }
    }
    if weights.isInteger, report != nil, eam.calib == nil, eval == nil, !options.writesReport(passes: Pipeline.passes(for: options)) {
      usage("--report for --weights \(weights.rawValue) needs images to measure on: give --calib FOLDER or --eval FOLDER")
    }
    if let report, !report.hasSuffix(".json"), !report.hasSuffix(".html") {
      usage("--report must name a .json or .html file, not '\(report)'")
    }
    guard let output = output ?? (dryRun ? "" : nil) else { usage("give the artifact to write with -o FILE.eam (or --dry-run)") }
    if !dryRun, output == checkpoint { usage("-o \(output) would overwrite the checkpoint \(checkpoint)") }

    // Inputs and outputs, before any long work (status 1).
    Check.input { () throws(CompileError) in
      try Preflight.checkpoint(checkpoint)
      if !dryRun {
        try Preflight.writable(output, what: "artifact")
        if let report { try Preflight.writable(report, what: "report") }
      }
      for file in options.statisticsFiles { try Preflight.checkpoint(file) }
    }
    var calibrationFolder = eam.calib, remarks: [String] = []
    do throws(CompileError) {
      if let calib = eam.calib { options.calibrationImages = try ImageFolder.list(calib) }
      if let eval { options.evalImages = try ImageFolder.list(eval) }
    } catch { fail(error) }
    if !options.statisticsFiles.isEmpty, eam.calib != nil {
      // Beside --stats, calibration images are not calibrated again; they serve two things only.
      var uses: [String] = []
      if options.eam?.criterion == .weightedEntropy { uses.append("measure the output sensitivity (weighted-entropy)") }
      if options.eam?.entropyResolution == nil { uses.append("choose the entropy resolution (auto)") }
      if options.evalImages.isEmpty { uses.append("measure the per-block error on 4 of them") }
      if uses.isEmpty {
        usage("--calib is not used beside --stats with --select other than weighted-entropy, a fixed --entropy-resolution and --eval: drop --calib (the statistics come from the .eamstats files)")
      }
      remarks.append("--calib beside --stats: not calibrated again; its images only " + uses.joined(separator: " and "))
    }
    if !options.statisticsFiles.isEmpty, eam.calib == nil, let e = options.eam, e.criterion == .weightedEntropy, e.sparsity > 0 {
      remarks.append("--stats without --calib: no images to measure the output sensitivity on, so entries are ranked by plain entropy (pass --calib for weighted-entropy)")
    }
    if options.statisticsFiles.isEmpty == false && eam.calib == nil { calibrationFolder = nil }
    let calibHashes: [String], evalHashes: [String]
    do throws(CompileError) {
      calibHashes = try Preflight.images(Calibration.select(options.calibrationImages, options: options.calibration), role: "calibration")
      evalHashes = try Preflight.images(options.evalImages, role: "held-out")
      let selected = Calibration.select(options.calibrationImages, options: options.calibration)
      var shared = Preflight.overlap(options.evalImages, hashes: evalHashes, calibration: selected, calibrationHashes: calibHashes)
        .map { "\($0.0) = \($0.1)" }
      if !options.evalImages.isEmpty, !options.statisticsFiles.isEmpty {
        shared += try Preflight.overlap(options.evalImages, hashes: evalHashes, statistics: options.statisticsFiles)
          .map { "\($0) (in the --stats calibration set)" }
      }
      if !shared.isEmpty {
        let list = shared.prefix(3).joined(separator: ", ") + (shared.count > 3 ? " and \(shared.count - 3) more" : "")
        if !allowOverlap {
          throw CompileError("\(eval ?? ""): \(shared.count) of \(options.evalImages.count) held-out images are calibration images by content (\(list)); use other images, or --allow-overlap")
        }
        remarks.append("WARNING: \(shared.count) held-out images are calibration images (\(list)): fidelity figures are not held-out")
      }
    } catch { fail(error) }
    _ = calibHashes
    options.reportPath = report
    options.reading.allowUnsafePickle = allowUnsafePickle

    let box = ConfigurationBox()
    let given = Set([resize.map { _ in "resize" }, mean.map { _ in "mean" }, std.map { _ in "std" }].compactMap { $0 })
    let evalFolder = eval, fixedOptions = options, dry = dryRun, calibFolder = calibrationFolder, fixedRemarks = remarks
    let outputs = dryRun ? [] : [output] + (options.writesReport(passes: Pipeline.passes(for: options)) ? [Self.reportPaths(report, output: output)] : [])
    options.announce = { [heads, imageSize] (checkpoint: Checkpoint, model: ModelDescription) throws(CompileError) -> Void in
      var c = Configuration(command: dry ? "compile --dry-run" : "compile", checkpointPath: self.checkpoint,
                            checkpoint: checkpoint, model: model, options: fixedOptions)
      c.given = given
      c.calibrationFolder = calibFolder
      c.evalFolder = evalFolder
      c.outputs = outputs
      c.remarks = fixedRemarks
      let a = model.architecture
      if let imageSize, a.family != .swin {
        if imageSize != a.imageSize {
          usage("--image-size \(imageSize): \(self.checkpoint) fixes the image size at \(a.imageSize) (its position embedding); drop --image-size")
        }
        c.remarks.append("--image-size \(imageSize) matches the checkpoint's (only Swin checkpoints need it)")
      }
      if heads != nil, a.family == .swin {
        usage("--heads: Swin's heads are read from each block's relative position bias table; drop --heads")
      }
      if model.headCount.isGuess {
        c.remarks.insert("the head count is a guess (\(model.blocks.first?.heads ?? 0) per block): if the model has other heads the artifact computes something else; pass --heads N", at: 0)
      }
      for line in c.lines { Console.say(line) }
      box.configuration = c
    }

    if dryRun {
      let loaded: (Checkpoint, ModelDescription)
      do throws(CompileError) {
        loaded = try Compiler.load(checkpoint, overrides: options.overrides)
        try options.announce?(loaded.0, loaded.1)
      } catch { fail(error) }
      let plan: DryRun
      do throws(CompileError) { plan = try DryRun(model: loaded.1, options: options) } catch { fail(error) }
      if json {
        Console.emit(.object([("configuration", box.configuration?.json ?? .null), ("plan", plan.json)]))
      } else {
        for line in plan.lines { Console.out(line) }
      }
      return
    }

    AtomicFile.acceptInterruption()
    let summary: CompileSummary
    do throws(CompileError) {
      summary = try Compiler.compile(checkpoint, to: output, options: options)
    } catch {
      fail(error)
    }
    if json {
      var fields: [(String, JSON)] = [
        ("configuration", box.configuration?.json ?? .null),
        ("artifact", .object([("path", .string(output)), ("bytes", .int(summary.artifactBytes)),
                              ("float32_weight_bytes", .int(summary.floatBytes)),
                              ("ratio_to_float32", .number(Double(summary.artifactBytes) / Double(max(summary.floatBytes, 1))))])),
      ]
      fields.append(("report_path", summary.reportPath.map { .string($0) } ?? .null))
      fields.append(("report", summary.report?.json ?? .null))
      Console.emit(.object(fields))
      return
    }
    Console.out("wrote \(output): \(Sizes.withRatio(summary.artifactBytes, float: summary.floatBytes))")
    if let r = summary.report, let path = summary.reportPath {
      let frozen = summary.model.blocks.reduce(0) { $0 + $1.frozen.reduce(0) { $0 + $1.frozenEntries } }
      if let removal = r.pass("attention_removal") {
        let blocks: [String] = { if case .array(let b)? = removal.setting("blocks") { b.map(\.text) } else { [] } }()
        let saved: Double = { if case .number(let v)? = removal.setting("flops_saved_fraction") { v } else { 0 } }()
        Console.out("attention removed: blocks \(blocks.joined(separator: ",")) (\(options.removal?.mode.rawValue ?? "")), \(String(format: "%.1f", saved * 100))% of the FLOPs")
      }
      if let h = r.pass("hallucinated_heads") {
        let saved: Double = { if case .number(let v)? = h.setting("flops_saved_fraction") { v } else { 0 } }()
        Console.out("hallucinated heads: \(options.hallucination?.fraction ?? 0) of each layer's heads, \(String(format: "%.1f", saved * 100))% of the FLOPs")
      }
      if let compact = r.pass("compact_ffn") {
        let saved: Double = { if case .number(let v)? = compact.setting("flops_saved_fraction") { v } else { 0 } }()
        Console.out("compact FFN: fc2 factorised to rank fraction \(options.compactFFN?.rankFraction ?? 0), \(String(format: "%.1f", saved * 100))% of the FLOPs")
      }
      if r.pass("eam") != nil {
        Console.out("EAM: \(frozen) attention entries frozen (\(r.sparsity * 100)% target) in \(r.bits) bits, calibrated on \(r.calibrationImages) images")
      }
      if !r.quantization.isEmpty {
        let worst = r.quantization.filter { $0.error != nil }.sorted { $0.error! > $1.error! }.prefix(3)
        let types = Dictionary(grouping: r.quantization, by: \.type).map { "\($0.value.count) \($0.key)" }.sorted()
        Console.out("weights: " + types.joined(separator: ", ") + " layers" + (worst.isEmpty ? "" :
          "; most output error alone (\(r.quantizationImages) images): " + worst.map { "\($0.layer) \(String(format: "%.2e", $0.error!))" }.joined(separator: ", ")))
      }
      for (name, f) in r.fidelity {
        let name = name == "eam" ? "artifact" : name
        Console.out("  \(name.padding(toLength: 16, withPad: " ", startingAt: 0)) cosine to float on \(f.images) held-out images: mean \(String(format: "%.5f", f.meanCosine)), min \(String(format: "%.5f", f.minCosine))")
      }
      if r.fidelity.isEmpty { Console.out("  fidelity not measured: no held-out images (--eval FOLDER)") }
      if let worst = r.layerError.indices.max(by: { r.layerError[$0] < r.layerError[$1] }) {
        Console.out("  per-block error of the residual stream (\(r.layerErrorImages) images): " +
              r.layerError.map { String(format: "%.3f", $0) }.joined(separator: " ") + "; largest at block \(worst)")
      }
      for (step, seconds) in r.durations { Console.detail("  \(step): \(Progress.seconds(seconds))") }
      Console.out("wrote \(path)\(path.hasSuffix(".html") ? " (and \(String(path.dropLast(5))).json)" : "")")
    }
  }

  static func reportPaths(_ report: String?, output: String) -> String {
    report ?? (output.hasSuffix(".eam") ? String(output.dropLast(4)) : output) + ".report.json"
  }

  private func triple(_ s: String, _ flag: String) -> [Float] {
    let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 3, parts.allSatisfy({ $0 != nil }) else {
      usage("\(flag) takes three comma-separated numbers, not '\(s)'")
    }
    let values = parts.map { $0! }
    for (i, v) in values.enumerated() where !v.isFinite {
      usage("\(flag): \(flag.dropFirst(2)) \(v) (channel \(i)) is not a finite number")
    }
    if flag == "--std", values.contains(where: { $0 <= 0 }) { usage("--std values must be positive, not '\(s)'") }
    return values
  }
}

/// The configuration printed by the announce callback, kept for `--json`.
final class ConfigurationBox: @unchecked Sendable {
  var configuration: Configuration?
}
