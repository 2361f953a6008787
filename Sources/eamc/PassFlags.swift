import ArgumentParser
import EAMCompiler

extension AttentionRemovalOptions.Mode: ExpressibleByArgument {}

/// The flags of `compile`'s model-rewriting passes (attention removal, compact FFN).
struct PassFlags: ParsableArguments {
  @Option(name: .customLong("remove-attention"), help: ArgumentHelp("Blocks whose attention half is removed: a list such as 0,2,4, or auto:K (the K blocks whose removal alone costs least on the --calib images).", valueName: "blocks|auto:K"))
  var removeAttention: String?

  @Option(name: .customLong("removal-mode"), help: "What a removed block computes: lambda (x = x + x, then the MLP; what lambda_vit-trained networks expect) or skip (x unchanged, then the MLP).")
  var removalMode = AttentionRemovalOptions.Mode.lambda

  @Option(name: .customLong("hallucinate-heads"), parsing: .unconditional, help: ArgumentHelp("Fraction of each layer's heads (0 to 1) whose maps are made from the other heads' maps, fitted on the --calib images; their Q·Kᵀ is skipped.", valueName: "fraction"))
  var hallucinateHeads: Double?

  @Option(name: .customLong("compact-ffn"), parsing: .unconditional, help: ArgumentHelp("Factorise every block's fc2 to this fraction of the width (0 to 1), fitted to the MLP's output on the --calib images.", valueName: "rank-fraction"))
  var compactFFN: Double?

  /// Checks the values (usage errors, status 2) and applies them.
  func apply(to options: inout CompileOptions, calibrating: Bool) {
    if let compactFFN {
      guard compactFFN.isFinite, compactFFN > 0, compactFFN < 1 else { usage("--compact-ffn must be between 0 and 1 (exclusive), not \(compactFFN)") }
      guard calibrating else { usage("--compact-ffn fits its factors on calibration images: give --calib FOLDER") }
      options.compactFFN = CompactFFNOptions(rankFraction: compactFFN)
    }
    if let hallucinateHeads {
      guard hallucinateHeads.isFinite, hallucinateHeads > 0, hallucinateHeads < 1 else {
        usage("--hallucinate-heads must be between 0 and 1 (exclusive), not \(hallucinateHeads)")
      }
      guard calibrating else { usage("--hallucinate-heads fits the maps on calibration images: give --calib FOLDER") }
      options.hallucination = HallucinationOptions(fraction: hallucinateHeads)
    }
    guard let removeAttention else { return }
    guard let r = AttentionRemovalOptions(parsing: removeAttention, mode: removalMode) else {
      usage("--remove-attention takes block numbers such as 0,2,4 or auto:K with K ≥ 1, not '\(removeAttention)'")
    }
    if case .auto = r.selection, !calibrating {
      usage("--remove-attention \(removeAttention) ranks blocks on calibration images: give --calib FOLDER")
    }
    options.removal = r
  }
}
