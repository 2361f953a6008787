import ArgumentParser
import EAMCompiler

extension AttentionRemovalOptions.Mode: ExpressibleByArgument {}

/// The attention-layer removal flags of `compile`.
struct RemovalFlags: ParsableArguments {
  @Option(name: .customLong("remove-attention"), help: ArgumentHelp("Blocks whose attention half is removed: a list such as 0,2,4, or auto:K (the K blocks whose removal alone costs least on the --calib images).", valueName: "blocks|auto:K"))
  var removeAttention: String?

  @Option(name: .customLong("removal-mode"), help: "What a removed block computes: lambda (x = x + x, then the MLP; what lambda_vit-trained networks expect) or skip (x unchanged, then the MLP).")
  var removalMode = AttentionRemovalOptions.Mode.lambda

  /// Checks the values (usage errors, status 2) and applies them.
  func apply(to options: inout CompileOptions, calibrating: Bool) {
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
