import EAMRuntime

/// Formats a benchmark result for `eamc bench`.
public enum BenchReport {
  public static func text(_ r: BenchmarkResult, artifact: String) -> String {
    func ms(_ x: Double) -> String { "\(Double(Int((x * 100).rounded())) / 100) ms" }
    return """
      \(artifact): batch \(r.batch), \(r.threads) thread(s), \(r.iterations) runs on \(r.cpu) (kernels: \(r.kernels))
        latency  median \(ms(r.medianMs)), p10 \(ms(r.p10Ms)), p90 \(ms(r.p90Ms))
        throughput \(Double(Int(r.imagesPerSecond * 10)) / 10) images/s
        load \(ms(r.loadSeconds * 1000)), weights \(r.weightsInPlace ? "used in place (mmap)" : "converted at load"), activations \(mib(r.arenaBytes)), peak RSS \(mib(r.peakRSSBytes))
      """
  }

  public static func json(_ r: BenchmarkResult, artifact: String) -> JSON {
    .object([
      ("artifact", .string(artifact)), ("batch", .int(r.batch)), ("threads", .int(r.threads)),
      ("iterations", .int(r.iterations)), ("median_ms", .number(r.medianMs)), ("p10_ms", .number(r.p10Ms)),
      ("p90_ms", .number(r.p90Ms)), ("images_per_s", .number(r.imagesPerSecond)),
      ("load_ms", .number(r.loadSeconds * 1000)), ("peak_rss_bytes", .int(r.peakRSSBytes)),
      ("arena_bytes", .int(r.arenaBytes)), ("weights_in_place", .bool(r.weightsInPlace)),
      ("cpu", .string(r.cpu)), ("kernels", .string(r.kernels)),
    ])
  }
}
