import CEAMKernels

extension Kernels {
  /// A hallucinated head's `tokens × tokens` map from other heads' maps of its layer (head `h`'s
  /// at `maps + h·tokens²`): `max(0, intercept + Σ weights[s]·map(sources[s]))`, rows
  /// renormalised (uniform where empty). `sources` and `weights` hold `count` values each.
  public static func hallucinateMap(into out: UnsafeMutablePointer<Float>, tokens: Int, maps: UnsafePointer<Float>,
                                    sources: UnsafePointer<Int32>, weights: UnsafePointer<Float>, count: Int,
                                    intercept: Float) {
    eam_hallucinate_map(out, Int32(tokens), maps, sources, weights, Int32(count), intercept)
  }
}
