import EAMFormat
import EAMRuntimeCore

/// What the model harnesses do with an artifact that opened: load it (every section checked,
/// converted and validated against the manifest; frozen maps decoded) and, if it is small enough
/// to run within a fuzz iteration, run one image through it.
public enum FuzzModel {
  public static func loadAndRun(_ artifact: Artifact) {
    var options = LoadOptions()
    options.threads = 1
    guard let model = try? Model(artifact: artifact, options: options) else { return }
    // The runtime accepts models up to 65536 tokens, whose attention scratch alone is 16 GB:
    // loading is what is fuzzed for those; only models of fuzz-seed size are also run.
    let a = model.manifest.architecture
    guard (0...256).contains(a.imageSize), (0...256).contains(a.prefixTokens) else { return }
    let grid = a.patchSize > 0 ? a.imageSize / a.patchSize : 0
    let tokens = grid * grid + a.prefixTokens
    let widest = max(a.embedDim, a.mlpHidden, model.manifest.blocks.map(\.mlpHidden).max() ?? 0)
    guard tokens <= 256, widest <= 1024, model.outputWidth <= 4096 else { return }
    var pixels = 1
    for d in model.inputShape {
      let (p, overflow) = pixels.multipliedReportingOverflow(by: d)
      guard !overflow, p <= 1 << 22 else { return }
      pixels = p
    }
    let input = [Float](repeating: 0.25, count: pixels)
    _ = try? model.run(input, batch: 1)
  }
}
