import Foundation
import Testing
import EAMCompiler
import EAMFormat
import EAMIngest
import EAMRuntime

/// EAM end to end on a small DINOv2 fixture calibrated with the bundled images.
@Suite struct EAMEndToEnd {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let checkpoint = root.appendingPathComponent("Tests/Fixtures/models/dinov2_small.safetensors").path
  static let images = try! ImageFolder.list(root.appendingPathComponent("examples/images/calib").path)

  static func temporary(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-eam-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
  }

  static func options(sparsity: Double, threads: Int = 2) -> CompileOptions {
    var o = CompileOptions()
    o.overrides.heads = 2
    o.threads = threads
    o.calibration.progress = false
    var e = EAMOptions()
    e.sparsity = sparsity
    e.bits = 2
    o.eam = e
    o.calibrationImages = images
    return o
  }

  static func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path)!) }

  @Test func shardsMergeToTheSameArtifactAsOneRunWhateverTheThreads() throws {
    let whole = Self.temporary("whole.eam")
    _ = try Compiler.compile(Self.checkpoint, to: whole, options: Self.options(sparsity: 0.3, threads: 1))
    var shards: [String] = []
    for i in 1...3 {
      var o = Self.options(sparsity: 0.3)
      o.calibration.shard = (i, 3)
      let path = Self.temporary("shard\(i).eamstats")
      let stats = try Compiler.calibrate(Self.checkpoint, images: Self.images, options: o, to: path)
      #expect(stats.imageCount == 4)
      shards.append(path)
    }
    var merged = Self.options(sparsity: 0.3, threads: 2)
    merged.statisticsFiles = shards.reversed()  // statistics from shards; images only validate the entropy resolution
    let fromShards = Self.temporary("shards.eam")
    _ = try Compiler.compile(Self.checkpoint, to: fromShards, options: merged)
    let sameFromShards = Self.bytes(whole) == Self.bytes(fromShards)
    #expect(sameFromShards)
    let again = Self.temporary("again.eam")
    _ = try Compiler.compile(Self.checkpoint, to: again, options: Self.options(sparsity: 0.3, threads: 2))
    let sameAgain = Self.bytes(whole) == Self.bytes(again)
    #expect(sameAgain)
  }

  @Test func frozenRowsStillSumToOneAndTheFractionIsRespected() throws {
    let path = Self.temporary("thirty.eam")
    let summary = try Compiler.compile(Self.checkpoint, to: path, options: Self.options(sparsity: 0.3))
    let t = summary.model.tokens
    let frozen = summary.model.blocks.reduce(0) { $0 + $1.frozen.reduce(0) { $0 + $1.frozenEntries } }
    let total = summary.model.blocks.reduce(0) { $0 + $1.heads * t * t }
    #expect(frozen == Int((Double(total) * 0.3).rounded()))
    let model = try Model(path: path)
    // A row with a free entry sums to one (the free entries take the mass the frozen leave); a
    // row frozen whole holds exactly its stored values (its Q·Kᵀ row is not computed).
    var stored: [Int: [Float?]] = [:]  // block · 65536 + head -> per entry: the stored value where frozen
    for m in summary.model.frozenMaps {
      var values = [Float?](repeating: nil, count: t * t)
      var code = 0
      for i in 0..<(t * t) where m.mask[i] { values[i] = Float(m.codes[code]) * m.scale; code += 1 }
      stored[m.block * 65536 + m.head] = values
    }
    let sums = Sums(), whole = Sums()
    model.attentionObserver = { block, _, head, map, tokens, _, _ in
      let values = stored[block * 65536 + head]
      for r in 0..<tokens {
        let sum = (0..<tokens).reduce(Float(0)) { $0 + map[r * tokens + $1] }
        if let values, (0..<tokens).allSatisfy({ values[r * tokens + $0] != nil }) {
          let expected = (0..<tokens).reduce(Float(0)) { $0 + values[r * tokens + $1]! }
          whole.add(1 + sum - expected)
        } else {
          sums.add(sum)
        }
      }
    }
    let x = try NPY.read(path: Self.root.appendingPathComponent("Tests/Fixtures/models/dinov2_small.input.npy").path)
    _ = try model.run(x.values, batch: 2)
    #expect(sums.count > 0)
    #expect(sums.worst < 1e-5)
    #expect(whole.worst < 1e-5)
    // The report exists and records the flags and calibration hash.
    let report = String(decoding: Self.bytes(Self.temporary("thirty.report.json")), as: UTF8.self)
    #expect(report.contains("\"set_sha256\"") && report.contains("--sparsity=0.3"))
    // Per-block drift of the residual stream: one finite value per block, some error somewhere.
    let errors = summary.report?.layerError ?? []
    #expect(errors.count == summary.model.blocks.count)
    #expect(errors.allSatisfy { $0.isFinite && $0 >= 0 } && errors.contains { $0 > 0 })
  }

  @Test func layerErrorOfAModelAgainstItselfIsZero() throws {
    let path = Self.temporary("float.eam")
    var options = CompileOptions()
    options.overrides.heads = 2
    _ = try Compiler.compile(Self.checkpoint, to: path, options: options)
    let a = try Model(path: path), b = try Model(path: path)
    let e = try LayerError.measure(a, reference: b, images: Array(Self.images.prefix(2)))
    #expect(e.relative.count == a.manifest.blocks.count && e.relative.allSatisfy { $0 == 0 })
    // Both models really ran, image by image (zeros alone would also come from an observer never called).
    #expect(e.outputs.count == 2 * a.outputWidth && e.outputs == e.referenceOutputs)
  }

  @Test func wholeFrozenHeadsSkipScoresAndDropTheirQueryKeyWeights() throws {
    let path = Self.temporary("all.eam")
    let summary = try Compiler.compile(Self.checkpoint, to: path, options: Self.options(sparsity: 1.0))
    #expect(summary.model.blocks.allSatisfy { $0.frozen.count == $0.heads && $0.frozen.allSatisfy(\.wholeHead) })
    let artifact = try Artifact(path: path)
    let qkvShape = artifact.section("blocks.0.attn.qkv.weight")?.shape
    #expect(qkvShape == [64, 64])  // V rows only
    let model = try Model(artifact: artifact)
    let calls = Sums()
    model.attentionObserver = { _, _, _, _, _, _, _ in calls.add(0) }
    let x = try NPY.read(path: Self.root.appendingPathComponent("Tests/Fixtures/models/dinov2_small.input.npy").path)
    let out = try model.run(x.values, batch: 2)
    #expect(calls.count == 0)  // no Q·Kᵀ, no softmax anywhere
    #expect(out.allSatisfy { $0.isFinite })
  }

  @Test func swinCalibrationPoolsTheWindowsOfEachLayerAndHead() throws {
    let swin = Self.root.appendingPathComponent("Tests/Fixtures/models/swin_tiny.safetensors").path
    var o = CompileOptions()
    o.calibration.progress = false
    o.calibration.batch = 3
    let images = Array(Self.images.prefix(5))
    let stats = try Compiler.calibrate(swin, images: images, options: o, to: Self.temporary("swin.eamstats"))
    // Small Swin at the default image size 224: patch 4 → 56×56 grid, window 4; stage 1: 14×14
    // windows, stage 2 (28×28): 7×7.
    #expect(stats.layers == 4 && stats.tokens == [16, 16, 16, 16] && stats.heads == [2, 2, 4, 4])
    #expect(stats.observations(layer: 0, head: 1) == 5 * 196, "\(stats.observations(layer: 0, head: 1))")
    #expect(stats.observations(layer: 3, head: 3) == 5 * 49, "\(stats.observations(layer: 3, head: 3))")
    for l in 0..<4 {
      for h in 0..<stats.heads[l] {
        let e = stats.headEntropy(layer: l, head: h)
        #expect(e > 0 && e <= Foundation.log(16.0) + 1e-9)
        // Every window row is a distribution: the pooled entry means of a row sum to 1.
        let means = stats.entryMeans(layer: l, head: h)
        for r in 0..<16 { #expect(abs(means[(r * 16)..<(r * 16 + 16)].reduce(0, +) - 1) < 1e-4) }
      }
    }
    // Shards of the same images merge to the same statistics, whatever the batch.
    var shards: AttentionStatistics?
    for i in 1...2 {
      var so = o
      so.calibration.shard = (i, 2)
      so.calibration.batch = 2
      let part = try Compiler.calibrate(swin, images: images, options: so, to: Self.temporary("swin\(i).eamstats"))
      if shards == nil { shards = part } else { try shards!.merge(part) }
    }
    #expect(shards == stats)
    // Frozen maps over these pooled statistics: one 16×16 map per (block, head) (SwinFrozenWindows).
    var eam = o
    var e = EAMOptions()
    e.sparsity = 0.2
    eam.eam = e
    eam.calibrationImages = images
    let summary = try Compiler.compile(swin, to: Self.temporary("swin.eam"), options: eam)
    #expect(!summary.model.frozenMaps.isEmpty && summary.model.frozenMaps.allSatisfy { $0.tokens == 16 })
    #expect(summary.model.blocks.reduce(0) { $0 + $1.frozen.reduce(0) { $0 + $1.frozenEntries } } == Int((12 * 256 * 0.2).rounded()))
  }

  /// Partially frozen maps (30%, and 90% where whole rows freeze): the same output whatever the
  /// thread count and whether attention is timed.
  @Test(arguments: [0.3, 0.9])
  func partiallyFrozenOutputDoesNotDependOnThreadsOrTiming(sparsity: Double) throws {
    let path = Self.temporary("threads-\(sparsity).eam")
    _ = try Compiler.compile(Self.checkpoint, to: path, options: Self.options(sparsity: sparsity))
    let x = try NPY.read(path: Self.root.appendingPathComponent("Tests/Fixtures/models/dinov2_small.input.npy").path)
    var outputs: [[Float]] = []
    for threads in [1, 2, 3] {
      var options = LoadOptions()
      options.threads = threads
      let model = try Model(path: path, options: options)
      outputs.append(try model.run(x.values, batch: x.shape[0]))
      let timing = AttentionTiming(threads: model.pool.threadCount)
      timing.attach(to: model)
      outputs.append(try model.run(x.values, batch: x.shape[0]))
      #expect(timing.seconds > 0)
    }
    #expect(outputs.allSatisfy { $0 == outputs[0] })
    #expect(outputs[0].allSatisfy { $0.isFinite })
  }

  /// `eamc bench A --compare B`: attention time per run, positive and within the run's, its
  /// phases, the frozen fraction, all in the JSON.
  @Test func benchmarkReportsAttentionTimeAndFrozenFraction() throws {
    let eam = Self.temporary("bench-eam.eam"), float = Self.temporary("bench-float.eam")
    _ = try Compiler.compile(Self.checkpoint, to: eam, options: Self.options(sparsity: 0.3))
    var plain = Self.options(sparsity: 0)
    plain.eam = nil
    _ = try Compiler.compile(Self.checkpoint, to: float, options: plain)
    let models = [try Model(path: eam), try Model(path: float)]
    let results = Benchmark.measure(models, batch: 2, iterations: 3, warmup: 1, loadSeconds: [0.1, 0.1])
    for r in results {
      #expect(r.attentionMedianMs > 0 && r.attentionMedianMs <= r.medianMs)
      #expect(r.attentionP10Ms <= r.attentionMedianMs && r.attentionMedianMs <= r.attentionP90Ms)
      #expect(r.attentionPhaseMs.count == 3 && r.attentionPhaseMs.allSatisfy { $0 > 0 })
      #expect(r.iterations == 3)
    }
    #expect(abs(results[0].frozenFraction - 0.3) < 1e-3)
    #expect(results[1].frozenFraction == 0)
    #expect(models.allSatisfy { $0.attentionProbe == nil })  // restored

    let single = try JSONSerialization.jsonObject(with: Data(BenchReport.json(results[0], artifact: eam).text.utf8)) as! [String: Any]
    for key in ["median_ms", "attention_median_ms", "attention_p10_ms", "attention_p90_ms", "attention_thread_ms", "frozen_fraction"] {
      #expect(single[key] != nil, "\(key)")
    }
    let phases = single["attention_thread_ms"] as! [String: Double]
    #expect(Set(phases.keys) == ["scores", "softmax", "pv"])
    #expect((single["attention_median_ms"] as! Double) <= (single["median_ms"] as! Double))

    let both = try JSONSerialization.jsonObject(
      with: Data(BenchReport.compareJSON(results[0], artifact: eam, results[1], compare: float).text.utf8)) as! [String: Any]
    let other = both["compare"] as! [String: Any], ratio = both["ratio"] as! [String: Double]
    #expect(other["artifact"] as? String == float && (other["frozen_fraction"] as! Double) == 0)
    #expect(abs(ratio["attention_median"]! - results[0].attentionMedianMs / results[1].attentionMedianMs) < 1e-9)
    let text = BenchReport.compareText(results[0], artifact: eam, results[1], compare: float)
    #expect(text.contains("attention median") && text.contains("30.0%"))
    #expect(BenchReport.text(results[0], artifact: eam).contains("attention median"))
  }

  @Test func refusesOutOfRangeSparsity() {
    #expect(throws: CompileError.self) {
      _ = try Compiler.compile(Self.checkpoint, to: Self.temporary("bad.eam"), options: Self.options(sparsity: 1.5))
    }
    #expect(!FileManager.default.fileExists(atPath: Self.temporary("bad.eam")))
  }
}

/// Collects values from the runtime's threads.
final class Sums: @unchecked Sendable {
  private let lock = NSLock()
  private(set) var count = 0
  private(set) var worst: Float = 0
  func add(_ rowSum: Float) {
    lock.lock()
    count += 1
    worst = max(worst, abs(rowSum - 1))
    lock.unlock()
  }
}
