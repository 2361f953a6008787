import EAMKernels
import EAMRuntimeCore

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
  /// Per run: wall-clock time in attention (Q·Kᵀ, softmax, P·V of every head), median over runs.
  public var attentionMedianMs: Double = 0
  public var attentionP10Ms: Double = 0
  public var attentionP90Ms: Double = 0
  /// Per run, median over runs: thread-milliseconds of each attention phase (`AttentionPhase`
  /// order: scores, softmax, output), summed over the threads.
  public var attentionPhaseMs: [Double] = [0, 0, 0]
  /// The fraction of attention-map entries the artifact freezes.
  public var frozenFraction: Double = 0
}

public enum Benchmark {
  /// Runs the model `warmup` times, then `iterations` timed runs on a fixed synthetic input.
  public static func measure(_ model: Model, batch: Int, iterations: Int, warmup: Int = 3, loadSeconds: Double) -> BenchmarkResult {
    measure([model], batch: batch, iterations: iterations, warmup: warmup, loadSeconds: [loadSeconds])[0]
  }

  /// Times several models alike: warm-up runs of each, then `iterations` rounds in which each
  /// model runs once, the order rotating from round to round, so that a change in the machine's
  /// load reaches every model alike. Attention is timed in every run (a few clock reads per
  /// head). Peak RSS is the process's, all models included.
  public static func measure(_ models: [Model], batch: Int, iterations: Int, warmup: Int = 3,
                             loadSeconds: [Double]) -> [BenchmarkResult] {
    precondition(models.count == loadSeconds.count && !models.isEmpty)
    let inputs = models.map { model -> [Float] in
      let per = model.inputShape.reduce(1, *)
      return (0..<(batch * per)).map { Float(($0 * 7919) % 1000) / 500 - 1 }
    }
    var outputs = models.map { [Float](repeating: 0, count: batch * $0.outputWidth) }
    var total = [[Double]](repeating: [], count: models.count)
    var attention = total
    var phases = [[[Double]]](repeating: [[], [], []], count: models.count)
    let probesWere = models.map { $0.attentionProbe }
    let timings = models.map { AttentionTiming(threads: $0.pool.threadCount) }
    for (model, timing) in zip(models, timings) { timing.attach(to: model) }
    func run(_ i: Int) {
      inputs[i].withUnsafeBufferPointer { inp in
        outputs[i].withUnsafeMutableBufferPointer { out in models[i].run(inp.baseAddress!, batch: batch, into: out.baseAddress!) }
      }
    }
    for i in models.indices { for _ in 0..<warmup { run(i) } }
    for round in 0..<max(1, iterations) {
      for step in models.indices {
        let i = (round + step) % models.count
        let timing = timings[i]
        timing.reset()
        let t0 = Clock.now()
        run(i)
        total[i].append((Clock.now() - t0) * 1000)
        attention[i].append(timing.seconds * 1000)
        for p in 0..<3 { phases[i][p].append(timing.phaseSeconds[p] * 1000) }
      }
    }
    for (model, was) in zip(models, probesWere) { model.attentionProbe = was }
    let rss = PeakMemory.bytes()
    return models.indices.map { i in
      let times = total[i]
      let median = percentile(times, 0.5)
      var r = BenchmarkResult(batch: batch, threads: models[i].pool.threadCount, iterations: times.count,
                              loadSeconds: loadSeconds[i], medianMs: median, p10Ms: percentile(times, 0.1),
                              p90Ms: percentile(times, 0.9), imagesPerSecond: Double(batch) / (median / 1000),
                              peakRSSBytes: rss, weightsInPlace: models[i].copiedWeightBytes == 0,
                              arenaBytes: models[i].arenaBytes, cpu: Kernels.cpuName, kernels: KernelVariant.active.name + ", int8 " + Int8Path.active.name)
      r.attentionMedianMs = percentile(attention[i], 0.5)
      r.attentionP10Ms = percentile(attention[i], 0.1)
      r.attentionP90Ms = percentile(attention[i], 0.9)
      r.attentionPhaseMs = phases[i].map { percentile($0, 0.5) }
      r.frozenFraction = models[i].frozenAttentionFraction
      return r
    }
  }

  /// The value at quantile q (nearest rank) of the values.
  static func percentile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
  }
}
