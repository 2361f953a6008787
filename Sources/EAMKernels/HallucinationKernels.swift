import CEAMKernels

extension Kernels {
  /// A hallucinated head's `tokens × tokens` map from other heads' maps of its layer:
  /// `max(0, intercept + Σ weights[s]·sources[s])`, rows renormalised (uniform where empty).
  public static func hallucinateMap(into out: UnsafeMutablePointer<Float>, tokens: Int,
                                    sources: [UnsafePointer<Float>], weights: [Float], intercept: Float) {
    precondition(sources.count == weights.count)
    sources.map { Optional($0) }.withUnsafeBufferPointer { s in
      weights.withUnsafeBufferPointer { w in
        eam_hallucinate_map(out, Int32(tokens), s.baseAddress, w.baseAddress, Int32(sources.count), intercept)
      }
    }
  }
}
