import EAMRuntime

/// Formats a benchmark result for `eamc bench`.
public enum BenchReport {
  public static func text(_ r: BenchmarkResult, artifact: String) -> String {
    return """
      \(artifact): batch \(r.batch), \(r.threads) thread(s), \(r.iterations) runs on \(r.cpu) (kernels: \(r.kernels))
        latency  median \(ms(r.medianMs)), p10 \(ms(r.p10Ms)), p90 \(ms(r.p90Ms))
        attention median \(ms(r.attentionMedianMs)) of \(ms(r.medianMs)) (\(percent(r.attentionMedianMs / r.medianMs))); \
      thread time Q·Kᵀ \(ms(r.attentionPhaseMs[0])), softmax \(ms(r.attentionPhaseMs[1])), P·V \(ms(r.attentionPhaseMs[2]))
        frozen   \(r.frozenFraction > 0 ? "\(percent(r.frozenFraction)) of attention-map entries" : "none (no EAM)")
        throughput \(Double(Int(r.imagesPerSecond * 10)) / 10) images/s
        load \(ms(r.loadSeconds * 1000)), weights \(r.weightsInPlace ? "used in place (mmap)" : "converted at load"), activations \(mib(r.arenaBytes)), peak RSS \(mib(r.peakRSSBytes))
      """
  }

  /// Two artifacts timed run by run in alternation (`eamc bench A --compare B`), side by side.
  public static func compareText(_ a: BenchmarkResult, artifact: String, _ b: BenchmarkResult, compare: String) -> String {
    func frozen(_ r: BenchmarkResult) -> String { r.frozenFraction > 0 ? "\(percent(r.frozenFraction)) of attention entries frozen" : "no frozen entries" }
    let rows: [(String, String, String, String)] = [
      ("latency median", ms(a.medianMs), ms(b.medianMs), ratio(a.medianMs, b.medianMs)),
      ("latency p10", ms(a.p10Ms), ms(b.p10Ms), ratio(a.p10Ms, b.p10Ms)),
      ("latency p90", ms(a.p90Ms), ms(b.p90Ms), ratio(a.p90Ms, b.p90Ms)),
      ("attention median", ms(a.attentionMedianMs), ms(b.attentionMedianMs), ratio(a.attentionMedianMs, b.attentionMedianMs)),
      ("  share of latency", percent(a.attentionMedianMs / a.medianMs), percent(b.attentionMedianMs / b.medianMs), ""),
      ("  Q·Kᵀ (thread time)", ms(a.attentionPhaseMs[0]), ms(b.attentionPhaseMs[0]), ratio(a.attentionPhaseMs[0], b.attentionPhaseMs[0])),
      ("  softmax", ms(a.attentionPhaseMs[1]), ms(b.attentionPhaseMs[1]), ratio(a.attentionPhaseMs[1], b.attentionPhaseMs[1])),
      ("  P·V", ms(a.attentionPhaseMs[2]), ms(b.attentionPhaseMs[2]), ratio(a.attentionPhaseMs[2], b.attentionPhaseMs[2])),
      ("frozen entries", percent(a.frozenFraction), percent(b.frozenFraction), ""),
    ]
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    var lines = [
      "A = \(artifact) (\(frozen(a)))",
      "B = \(compare) (\(frozen(b)))",
      "batch \(a.batch), \(a.threads) thread(s), \(a.iterations) runs of each, A and B alternating, on \(a.cpu) (kernels: \(a.kernels))",
      "  " + pad("", 22) + pad("A", 12) + pad("B", 12) + "A/B",
    ]
    for (name, x, y, q) in rows { lines.append("  " + pad(name, 22) + pad(x, 12) + pad(y, 12) + q) }
    return lines.joined(separator: "\n")
  }

  public static func json(_ r: BenchmarkResult, artifact: String) -> JSON {
    .object([
      ("artifact", .string(artifact)), ("batch", .int(r.batch)), ("threads", .int(r.threads)),
      ("iterations", .int(r.iterations)), ("median_ms", .number(r.medianMs)), ("p10_ms", .number(r.p10Ms)),
      ("p90_ms", .number(r.p90Ms)), ("images_per_s", .number(r.imagesPerSecond)),
      ("attention_median_ms", .number(r.attentionMedianMs)), ("attention_p10_ms", .number(r.attentionP10Ms)),
      ("attention_p90_ms", .number(r.attentionP90Ms)),
      ("attention_thread_ms", .object([("scores", .number(r.attentionPhaseMs[0])), ("softmax", .number(r.attentionPhaseMs[1])),
                                       ("pv", .number(r.attentionPhaseMs[2]))])),
      ("frozen_fraction", .number(r.frozenFraction)),
      ("load_ms", .number(r.loadSeconds * 1000)), ("peak_rss_bytes", .int(r.peakRSSBytes)),
      ("arena_bytes", .int(r.arenaBytes)), ("weights_in_place", .bool(r.weightsInPlace)),
      ("cpu", .string(r.cpu)), ("kernels", .string(r.kernels)),
    ])
  }

  /// A's object with B's under "compare" and the ratios A/B of the medians.
  public static func compareJSON(_ a: BenchmarkResult, artifact: String, _ b: BenchmarkResult, compare: String) -> JSON {
    guard case .object(var fields) = json(a, artifact: artifact) else { return json(a, artifact: artifact) }
    fields.append(("compare", json(b, artifact: compare)))
    fields.append(("ratio", .object([("median", .number(a.medianMs / b.medianMs)),
                                     ("attention_median", .number(a.attentionMedianMs / b.attentionMedianMs))])))
    return .object(fields)
  }

  static func ms(_ x: Double) -> String { "\(Double(Int((x * 100).rounded())) / 100) ms" }
  static func percent(_ x: Double) -> String { "\(Double(Int((x * 1000).rounded())) / 10)%" }
  static func ratio(_ x: Double, _ y: Double) -> String { y > 0 ? "\(Double(Int((x / y * 1000).rounded())) / 1000)" : "-" }
}
