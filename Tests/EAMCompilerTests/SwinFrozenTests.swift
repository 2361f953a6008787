import Foundation
import Testing
@testable import EAMCompiler
import EAMFormat
import EAMIngest
import EAMRuntime

/// EAM frozen maps in Swin's window attention (schemas/FORMAT.md, "Frozen attention maps"): one
/// w²×w² map per (block, head), shared by every window of the head.
@Suite struct SwinFrozenWindows {
  static let fixture = Paths.fixtures.appendingPathComponent("swin_frozen")

  /// The small Swin (safetensors) recognised at its fixture's image size, 64.
  static func smallSwin() throws -> ModelDescription {
    var overrides = ModelOverrides()
    overrides.imageSize = 64
    return try Compiler.load(try FixtureModel(SwinFixtures.small).path(".safetensors"), overrides: overrides).1
  }

  /// The description with the frozen maps of Tests/Fixtures/swin_frozen (scripts/make_swin_frozen_fixtures.py).
  static func withFixtureMaps(_ model: ModelDescription) throws -> ModelDescription {
    let index = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("index.json"))) as! [String: Any]
    var m = model
    for entry in index["frozen"] as! [[String: Any]] {
      let b = entry["block"] as! Int, h = entry["head"] as! Int, t = entry["tokens"] as! Int
      #expect(t == m.mapTokens(block: b))
      let all = try NPY.read(path: fixture.appendingPathComponent("block\(b).codes.npy").path)
      let codes = Array(all.values[(h * t * t)..<((h + 1) * t * t)])
      let map = FrozenHeadMap(block: b, head: h, tokens: t, mask: codes.map { $0 >= 0 }, codes: codes.filter { $0 >= 0 }.map { UInt8($0) },
                              bits: entry["bits"] as! Int, scale: Float(entry["scale"] as! Double))
      #expect(map.frozenCount == entry["frozen_entries"] as! Int && map.isWholeHead == entry["whole_head"] as! Bool)
      m.frozenMaps.append(map)
      m.blocks[b].frozen.append(map.manifestEntry)
    }
    return m
  }

  /// timm's Swin with each WindowAttention's softmax replaced by the frozen rule, in float64,
  /// against the runtime (f32) on the same frozen maps. Bounds: those of the unfrozen Swin
  /// against timm (`SwinMatchesReference`): f32 accumulation over four blocks stays near 1e-6
  /// relative; the frozen maps move the output to cosine 0.975 from the float model, so a map
  /// applied wrongly (to the wrong windows, heads or positions, or under the bias and mask) fails.
  @Test func frozenWindowsMatchTimmWithTheFrozenRule() throws {
    let model = try Self.withFixtureMaps(try Self.smallSwin())
    let path = Paths.temporary("swin-frozen-fixture.eam")
    try Data(try Emitter.artifact(for: model, settings: EmitSettings())).write(to: URL(fileURLWithPath: path))
    let x = try NPY.read(path: Paths.fixtures.appendingPathComponent("models/swin_tiny.input.npy").path)
    let y = try NPY.read(path: Self.fixture.appendingPathComponent("output.npy").path)
    var outputs: [[Float]] = []
    for threads in [1, 2] {
      var options = LoadOptions()
      options.threads = threads
      let runtime = try Model(path: path, options: options)
      let frozen = model.frozenMaps.reduce(0) { $0 + $1.frozenCount }
      let total = model.blocks.reduce(0) { $0 + $1.heads * 16 * 16 }  // 16×16 maps
      #expect(abs(runtime.frozenAttentionFraction - Double(frozen) / Double(total)) < 1e-12)
      #expect(try runtime.plannedMemory(batch: 2).frozenMaps > 0)
      outputs.append(try runtime.run(x.values, batch: x.shape[0]))
    }
    #expect(outputs[0] == outputs[1])
    let (cosine, rel) = agreement(outputs[0], y.values)
    print("Swin frozen windows against timm: cosine \(cosine), relative L2 \(rel)")
    #expect(cosine >= 0.99999, "cosine \(cosine)")
    #expect(rel <= 1e-4, "relative L2 \(rel)")
  }

  static func compileOptions(sparsity: Double, threads: Int) throws -> CompileOptions {
    var o = CompileOptions()
    o.overrides.imageSize = 64
    o.threads = threads
    o.calibration.progress = false
    var e = EAMOptions()
    e.sparsity = sparsity
    o.eam = e
    o.calibrationImages = try ImageFolder.list(Paths.root.appendingPathComponent("examples/images/calib").path)
    return o
  }

  /// `eamc compile swin --calib examples/images/calib --sparsity 0.3`: the requested fraction of
  /// every window map entry (global budget), rows that still sum to 1, the same bytes at 1 and 2
  /// threads and the same output at 1 and 2 threads.
  @Test func compiledSwinFreezesTheRequestedFractionOfItsWindowMaps() throws {
    let checkpoint = try FixtureModel(SwinFixtures.small).path(".safetensors")
    let one = Paths.temporary("swin30-1.eam"), two = Paths.temporary("swin30-2.eam")
    let summary = try Compiler.compile(checkpoint, to: one, options: try Self.compileOptions(sparsity: 0.3, threads: 1))
    _ = try Compiler.compile(checkpoint, to: two, options: try Self.compileOptions(sparsity: 0.3, threads: 2))
    let same = FileManager.default.contents(atPath: one) == FileManager.default.contents(atPath: two)
    #expect(same)
    let m = summary.model
    #expect(m.blocks.allSatisfy { $0.windowSize == 4 } && m.frozenMaps.allSatisfy { $0.tokens == 16 })
    let total = m.blocks.reduce(0) { $0 + $1.heads * 16 * 16 }
    let frozen = m.blocks.reduce(0) { $0 + $1.frozen.reduce(0) { $0 + $1.frozenEntries } }
    #expect(frozen == Int((Double(total) * 0.3).rounded()), "\(frozen) of \(total)")
    #expect(m.frozenMaps.count > 0 && m.blocks.allSatisfy { b in b.frozen.allSatisfy { $0.frozenEntries <= 256 } })
    // Weighted entropy needs ViT-shaped maps: Swin falls back to the paper's criterion, and says so.
    let record = try #require(summary.report?.pass("eam"))
    #expect(summary.report?.criterion == "entropy")
    #expect(record.notes.contains { $0.contains("not Swin's windows, so the paper's criterion") })
    #expect(record.notes.contains { $0.hasPrefix("Swin: one frozen map per (block, head)") })
    #expect(summary.report?.frozenFraction.map(\.count) == m.blocks.map(\.heads))

    // The runtime: every window's rows with a free entry sum to 1, rows frozen whole hold their values.
    var stored: [Int: [Float?]] = [:]
    for f in m.frozenMaps {
      var values = [Float?](repeating: nil, count: 256)
      var code = 0
      for i in 0..<256 where f.mask[i] { values[i] = Float(f.codes[code]) * f.scale; code += 1 }
      stored[f.block * 65536 + f.head] = values
    }
    let x = try NPY.read(path: Paths.fixtures.appendingPathComponent("models/swin_tiny.input.npy").path)
    var outputs: [[Float]] = []
    for threads in [1, 2] {
      var options = LoadOptions()
      options.threads = threads
      let model = try Model(path: one, options: options)
      #expect(abs(model.frozenAttentionFraction - 0.3) < 1.0 / Double(total))
      let sums = Sums(), whole = Sums(), frozenSeen = Sums()
      model.attentionObserver = { block, _, head, map, tokens, _, _ in
        let values = stored[block * 65536 + head]
        for r in 0..<tokens {
          let sum = (0..<tokens).reduce(Float(0)) { $0 + map[r * tokens + $1] }
          if let values, (0..<tokens).allSatisfy({ values[r * tokens + $0] != nil }) {
            whole.add(1 + sum - (0..<tokens).reduce(Float(0)) { $0 + values[r * tokens + $1]! })
          } else {
            sums.add(sum)
          }
          if let values {
            for j in 0..<tokens { if let v = values[r * tokens + j] { frozenSeen.add(1 + (map[r * tokens + j] - v)) } }
          }
        }
      }
      outputs.append(try model.run(x.values, batch: x.shape[0]))
      #expect(sums.count > 0 && sums.worst < 1e-5, "worst row \(sums.worst)")
      #expect(whole.worst < 1e-5)
      #expect(frozenSeen.count > 0 && frozenSeen.worst == 0)  // frozen entries hold exactly their stored value
    }
    #expect(outputs[0] == outputs[1] && outputs[0].allSatisfy { $0.isFinite })
  }

  /// Medians need not sum to 1: a 16-entry window row frozen whole at medians of 0.07 (sum 1.12)
  /// is scaled to its whole mass before quantising, so that the runtime, which refuses rows of
  /// codes past 1 + k·scale/2, loads it (found at 8 bits on the small Swin at 224).
  @Test func frozenRowsOfMediansSummingPastOneAreScaledToOne() throws {
    let model = try Self.smallSwin()
    let n = 256
    func head(_ median: Float) -> HeadEntryStatistics {
      HeadEntryStatistics(tokens: 16, entropy: .init(repeating: 0, count: n), mean: .init(repeating: 1.0 / 16, count: n),
                          median: .init(repeating: median, count: n), std: .init(repeating: 0, count: n))
    }
    var statistics = [[HeadEntryStatistics]?](repeating: nil, count: model.blocks.count)
    statistics[0] = [head(0.07), head(0.07)]
    var options = EAMOptions()
    options.bits = 8
    let frozen = EAMPass.freeze(model, statistics: statistics, chosen: [0: (16..<32).map { Int32($0) }], options: options)
    let map = try #require(frozen.frozenMaps.first)
    let sum = map.codes.reduce(Float(0)) { $0 + Float($1) * map.scale }
    #expect(sum <= 1 + 16 * map.scale / 2 && sum > 0.99, "row sums to \(sum)")
    let bytes = try Emitter.artifact(for: frozen, settings: EmitSettings())
    let runtime = try Model(artifact: try Artifact(bytes: bytes, name: "medians.eam"))
    #expect(runtime.frozenAttentionFraction > 0)
  }

  /// `--entropy-resolution auto` compiles each candidate (frozen window maps and all) and keeps
  /// the one closest to the float model on calibration images.
  @Test func autoEntropyResolutionComparesCandidatesOnSwin() throws {
    let checkpoint = try FixtureModel(SwinFixtures.small).path(".safetensors")
    var o = try Self.compileOptions(sparsity: 0.3, threads: 2)
    o.eam!.entropyResolution = nil
    let summary = try Compiler.compile(checkpoint, to: Paths.temporary("swin-auto.eam"), options: o)
    let r = try #require(summary.report)
    #expect(EAMOptions.resolutionCandidates.contains(r.entropyResolution))
    let notes = try #require(r.pass("eam")).notes
    #expect(notes.contains { $0.hasPrefix("Entropy resolution: 1/") && $0.contains("chosen on 12 calibration images") }, "\(notes)")
  }

  /// Tiles of the fused kernel are larger than Swin's windows: refused before any work, one line.
  @Test(arguments: [FrozenGranularity.tile, .column])
  func tileGranularityIsRefusedForSwin(_ granularity: FrozenGranularity) throws {
    let checkpoint = try FixtureModel(SwinFixtures.small).path(".safetensors")
    var o = try Self.compileOptions(sparsity: 0.2, threads: 1)
    o.eam!.granularity = granularity
    let out = Paths.temporary("swin-\(granularity.rawValue).eam")
    #expect {
      _ = try Compiler.compile(checkpoint, to: out, options: o)
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix(checkpoint + ": --granularity \(granularity.rawValue)") && !text.contains("\n")
    }
    #expect(!FileManager.default.fileExists(atPath: out))
  }
}
