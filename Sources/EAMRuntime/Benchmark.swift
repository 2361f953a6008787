import EAMKernels

/// Latency statistics of repeated runs of a model.
public struct BenchmarkResult: Sendable {
  public var batch: Int
  public var threads: Int
  public var iterations: Int
  public var loadSeconds: Double
  public var medianMs: Double
  public var p10Ms: Double
  public var p90Ms: Double
  public var imagesPerSecond: Double
  public var peakRSSBytes: Int
  public var weightsInPlace: Bool
  public var arenaBytes: Int
  public var cpu: String
  public var kernels: String
}

public enum Benchmark {
  /// Runs the model `warmup` times, then `iterations` timed runs on a fixed synthetic input.
  public static func measure(_ model: Model, batch: Int, iterations: Int, warmup: Int = 3, loadSeconds: Double) -> BenchmarkResult {
    let per = model.inputShape.reduce(1, *)
    var input = [Float](repeating: 0, count: batch * per)
    for i in input.indices { input[i] = Float((i * 7919) % 1000) / 500 - 1 }
    var output = [Float](repeating: 0, count: batch * model.outputWidth)
    var times: [Double] = []
    input.withUnsafeBufferPointer { inp in
      output.withUnsafeMutableBufferPointer { out in
        for _ in 0..<warmup { model.run(inp.baseAddress!, batch: batch, into: out.baseAddress!) }
        for _ in 0..<max(1, iterations) {
          let t0 = Clock.now()
          model.run(inp.baseAddress!, batch: batch, into: out.baseAddress!)
          times.append((Clock.now() - t0) * 1000)
        }
      }
    }
    times.sort()
    func pct(_ q: Double) -> Double { times[min(times.count - 1, Int((Double(times.count - 1) * q).rounded()))] }
    let median = pct(0.5)
    return BenchmarkResult(batch: batch, threads: model.pool.threadCount, iterations: times.count, loadSeconds: loadSeconds,
                           medianMs: median, p10Ms: pct(0.1), p90Ms: pct(0.9),
                           imagesPerSecond: Double(batch) / (median / 1000), peakRSSBytes: Clock.peakRSS(),
                           weightsInPlace: model.copiedWeightBytes == 0, arenaBytes: model.arenaBytes,
                           cpu: Kernels.cpuName, kernels: KernelVariant.active.name)
  }
}
