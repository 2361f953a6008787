import EAMFormat
import EAMRuntime
import FuzzSupport

/// A whole `.eam` model: open the artifact, load it (every section checked, converted and
/// validated against the manifest; frozen maps decoded) and, if it is small enough to run within
/// a fuzz iteration, run one image through it. Checksums are recomputed first
/// (`FuzzChecksums`) so that mutations get past them. The seeds are tiny compiled models.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var bytes = FuzzHarness.bytes(data, size)
  FuzzChecksums.fixArtifact(&bytes)
  guard let artifact = try? Artifact(bytes: bytes, name: "fuzz.eam") else { return 0 }
  var options = LoadOptions()
  options.threads = 1
  guard let model = try? Model(artifact: artifact, options: options) else { return 0 }
  // The runtime accepts models up to 65536 tokens, whose attention scratch alone is 16 GB:
  // loading is what is fuzzed for those; only models of fuzz-seed size are also run.
  let a = model.manifest.architecture
  let grid = a.patchSize > 0 ? a.imageSize / a.patchSize : 0
  let tokens = grid * grid + a.prefixTokens
  let widest = max(a.embedDim, a.mlpHidden, model.manifest.blocks.map(\.mlpHidden).max() ?? 0)
  guard tokens <= 256, widest <= 1024, a.imageSize <= 256, model.outputWidth <= 4096 else { return 0 }
  let input = [Float](repeating: 0.25, count: model.inputShape.reduce(1, *))
  _ = try? model.run(input, batch: 1)
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
