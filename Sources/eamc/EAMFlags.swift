import ArgumentParser
import EAMCompiler

/// The calibration and EAM flags of `compile`.
struct EAMFlags: ParsableArguments {
  @Option(help: ArgumentHelp("A folder of calibration images (JPEG, PNG).", valueName: "folder"))
  var calib: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("Use at most this many calibration images (the first by name).", valueName: "n"))
  var calibCount: Int?

  @Option(parsing: .upToNextOption, help: ArgumentHelp("Calibration statistics (.eamstats shards from `eamc calibrate`) to merge instead of calibrating.", valueName: "file"))
  var stats: [String] = []

  @Option(parsing: .unconditional, help: ArgumentHelp("Fraction of all attention-map entries to freeze, 0 to 1 (turns EAM on).", valueName: "fraction"))
  var sparsity: Double?

  @Option(parsing: .unconditional, help: ArgumentHelp("Bits per frozen attention value, 1 to 8.", valueName: "bits"))
  var attnBits = 2

  @Option(help: "Ranking of entries: weighted-entropy (entropy weighted by measured output sensitivity; needs --calib), entropy (the paper's), std and random (the controls).")
  var select = SelectionCriterion.weightedEntropy

  @Option(help: "How the sparsity budget is shared out.")
  var budget = BudgetAllocation.global

  @Option(help: "What is frozen together: single entries, whole tiles of 64 queries × 48 keys (what the fused attention kernel skips work for), or columns of 64 queries × 1 key (it skips their exponentials, and their P·V when frozen at 0), ranked by their entries' mean.")
  var granularity = FrozenGranularity.entry

  @Option(help: ArgumentHelp("Absolute resolution of the entry entropy (histogram bins below it merge): a fraction such as 1/128 or 0.0078125, or auto (the best of 1/256, 1/128, 1/64 on calibration images).", valueName: "r|auto"))
  var entropyResolution = "1/128"

  @Option(help: "The constant a frozen entry keeps: its median or mean over the calibration images, or zero (its key dropped for that query, which lets the fused kernel skip frozen keys' P·V).")
  var frozenValue = FrozenValue.median

  @Option(parsing: .unconditional, help: ArgumentHelp("Images per calibration batch.", valueName: "n"))
  var calibBatch = 8

  @Option(parsing: .unconditional, help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
  var threads: Int?

  /// Checks the values (usage errors, status 2) and applies them; image folders are listed later.
  /// `otherPassesUseCalib`: another pass reads the calibration images, so --calib alone is fine.
  /// `staticActivations`: `--act-quant static` reads its ranges from --stats or --calib.
  func apply(to options: inout CompileOptions, otherPassesUseCalib: Bool = false, staticActivations: Bool = false) {
    Check.atLeastOne(calibCount, "--calib-count")
    Check.atLeastOne(calibBatch, "--calib-batch")
    Check.threads(threads)
    options.threads = threads
    options.calibration.count = calibCount
    options.calibration.batch = calibBatch
    options.statisticsFiles = stats
    guard let sparsity else {
      if !stats.isEmpty && !staticActivations {
        usage("--stats needs --sparsity (the fraction of attention entries to freeze) or --act-quant static")
      }
      if calib != nil && !otherPassesUseCalib {
        usage("--calib needs a use: --sparsity (the fraction of attention entries to freeze), a pass that fits on images, or --weights int8/int4")
      }
      return
    }
    guard sparsity.isFinite, sparsity >= 0, sparsity <= 1 else { usage("--sparsity must be between 0 and 1, not \(sparsity)") }
    guard (1...8).contains(attnBits) else { usage("--attn-bits must be 1 to 8, not \(attnBits)") }
    guard calib != nil || !stats.isEmpty else { usage("--sparsity needs --calib FOLDER or --stats FILE...") }
    var eam = EAMOptions()
    eam.sparsity = sparsity
    eam.bits = attnBits
    eam.criterion = select
    eam.allocation = budget
    eam.granularity = granularity
    eam.frozenValue = frozenValue
    if entropyResolution == "auto" {
      eam.entropyResolution = nil
    } else {
      guard let r = Self.fraction(entropyResolution), r > 0, r < 1 else {
        usage("--entropy-resolution must be auto or between 0 and 1 (e.g. 1/128), not '\(entropyResolution)'")
      }
      eam.entropyResolution = r
    }
    options.eam = eam
  }

  /// `0.0078125` or `1/128`.
  static func fraction(_ text: String) -> Float? {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    if parts.count == 2, let n = Float(parts[0]), let d = Float(parts[1]), d != 0 { return n / d }
    return parts.count == 1 ? Float(text) : nil
  }
}
