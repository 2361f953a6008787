import ArgumentParser
import EAMCompiler

/// The calibration and EAM flags shared by `compile` and `calibrate`.
struct EAMFlags: ParsableArguments {
  @Option(help: "A folder of calibration images (JPEG, PNG).")
  var calib: String?

  @Option(help: "Use at most this many calibration images.")
  var calibCount: Int?

  @Option(parsing: .upToNextOption, help: "Calibration statistics (.eamstats shards) to merge instead of calibrating; with --calib too, its images only choose the entropy resolution.")
  var stats: [String] = []

  @Option(help: "Fraction of all attention-map entries to freeze (0 to 1).")
  var sparsity: Double?

  @Option(help: "Bits per frozen attention value (1 to 8).")
  var attnBits = 2

  @Option(help: "Ranking of entries: entropy (EAM), std or random (controls).")
  var select = "entropy"

  @Option(help: "Budget allocation: global, per-layer or per-head.")
  var budget = "global"

  @Option(help: "Absolute resolution of the entry entropy (histogram bins below it merge), e.g. 1/128 or 0.0078125, or auto: the best of 1/256, 1/128, 1/64 on calibration images.")
  var entropyResolution = "1/128"

  @Option(help: "The constant a frozen entry keeps: median or mean over the calibration images.")
  var frozenValue = "median"

  @Option(help: "Images per calibration batch.")
  var calibBatch = 8

  @Option(help: "Threads (default: all cores).")
  var threads: Int?

  func apply(to options: inout CompileOptions) {
    if let calibCount, calibCount < 1 { fail("--calib-count must be at least 1") }
    guard calibBatch >= 1 else { fail("--calib-batch must be at least 1") }
    if let threads, threads < 1 { fail("--threads must be at least 1") }
    options.threads = threads
    options.calibration.count = calibCount
    options.calibration.batch = calibBatch
    if let calib {
      do throws(CompileError) { options.calibrationImages = try ImageFolder.list(calib) } catch { fail(error) }
    }
    options.statisticsFiles = stats
    guard let sparsity else {
      if calib != nil || !stats.isEmpty { fail("--calib and --stats need --sparsity (the fraction of attention entries to freeze)") }
      return
    }
    guard sparsity >= 0, sparsity <= 1 else { fail("--sparsity must be between 0 and 1, not \(sparsity)") }
    guard (1...8).contains(attnBits) else { fail("--attn-bits must be 1 to 8, not \(attnBits)") }
    guard let criterion = SelectionCriterion(rawValue: select) else { fail("--select must be entropy, std or random, not '\(select)'") }
    guard let allocation = BudgetAllocation(rawValue: budget) else { fail("--budget must be global, per-layer or per-head, not '\(budget)'") }
    guard calib != nil || !stats.isEmpty else { fail("--sparsity needs --calib DIR or --stats FILE") }
    var eam = EAMOptions()
    eam.sparsity = sparsity
    eam.bits = attnBits
    eam.criterion = criterion
    eam.allocation = allocation
    guard let value = FrozenValue(rawValue: frozenValue) else { fail("--frozen-value must be median or mean, not '\(frozenValue)'") }
    eam.frozenValue = value
    if entropyResolution == "auto" {
      eam.entropyResolution = nil
    } else {
      guard let r = Self.fraction(entropyResolution), r > 0, r < 1 else {
        fail("--entropy-resolution must be auto or between 0 and 1 (e.g. 1/128), not '\(entropyResolution)'")
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
