import Foundation
import Testing
import EAMFormat
import EAMRuntime

/// The committed EAM artifacts (small DINOv2 calibrated on examples/images/calib, 2-bit maps; 30%:
/// every head partly frozen; 98%: block 0 has a whole-frozen head beside a partly frozen one),
/// checked on the runtime alone: what the manifest and sections say against each other and against
/// FORMAT.md, and what the forward pass does with the maps.
@Suite struct EAMArtifacts {
  static let frozen = RuntimeFixture.all.filter { ($0.sparsity ?? 0) > 0 }

  @Test func bothSettingsAreCommitted() {
    #expect(Self.frozen.map(\.artifact) == ["dinov2_small.eam30.eam", "dinov2_small.eam98.eam"])
  }

  /// A frozen map decoded as FORMAT.md says: mask bit i = byte i/8, bit i%8; one LSB-first code
  /// of `bits` bits per frozen entry in mask order; value = code × scale.
  struct DecodedMap {
    var frozen: [Bool]
    var values: [Float]

    init(_ f: Manifest.FrozenMap, tokens t: Int, artifact: Artifact) throws {
      let maskSection = try #require(artifact.section(f.maskSection), "no section \(f.maskSection)")
      let valuesSection = try #require(artifact.section(f.valuesSection), "no section \(f.valuesSection)")
      #expect(maskSection.dtype == .u8 && maskSection.shape == [(t * t + 7) / 8], "\(f.maskSection) \(maskSection.shape)")
      #expect(valuesSection.dtype == .u8, "\(f.valuesSection)")
      let mask = try artifact.rawBytes(maskSection)
      let codes = try artifact.rawBytes(valuesSection)
      #expect(mask.count == (t * t + 7) / 8 && codes.count == (f.frozenEntries * f.bits + 7) / 8)
      frozen = (0..<(t * t)).map { mask[$0 / 8] & (1 << UInt8($0 % 8)) != 0 }
      values = [Float](repeating: 0, count: t * t)
      var bit = 0
      for i in 0..<(t * t) where frozen[i] {
        var code = 0
        for b in 0..<f.bits where codes[(bit + b) / 8] & (1 << UInt8((bit + b) % 8)) != 0 { code |= 1 << b }
        bit += f.bits
        values[i] = Float(code) * f.scale
      }
    }
  }

  @Test(arguments: frozen)
  func manifestAndSectionsAgree(fixture: RuntimeFixture) throws {
    let artifact = try Artifact(path: fixture.path)
    let m = artifact.manifest
    let t = m.architecture.prefixTokens + m.architecture.patchTokens
    let d = m.architecture.embedDim
    #expect(t == 10 && m.blocks.count == 2)
    var frozenTotal = 0, entriesTotal = 0
    for b in m.blocks {
      let hd = d / b.heads
      let whole = b.frozen.filter(\.wholeHead)
      // A whole-frozen head has no Q and K rows in the artifact.
      let qkvRows = 3 * d - 2 * hd * whole.count
      #expect(artifact.section("blocks.\(b.index).attn.qkv.weight")?.shape == [qkvRows, d], "block \(b.index)")
      #expect(artifact.section("blocks.\(b.index).attn.qkv.bias")?.shape == [qkvRows], "block \(b.index)")
      #expect(Set(b.frozen.map(\.head)).count == b.frozen.count && b.frozen.allSatisfy { $0.head < b.heads })
      var blockFrozen = 0
      for f in b.frozen {
        #expect(f.bits == 2 && f.scale > 0 && f.scale.isFinite)
        let map = try DecodedMap(f, tokens: t, artifact: artifact)
        let count = map.frozen.filter { $0 }.count
        #expect(count == f.frozenEntries, "block \(b.index) head \(f.head): mask \(count), manifest \(f.frozenEntries)")
        #expect(f.wholeHead == (count == t * t))
        #expect(map.values.allSatisfy { $0 >= 0 && $0 <= 1 })
        blockFrozen += count
      }
      #expect(abs(Double(b.frozenFraction) - Double(blockFrozen) / Double(b.heads * t * t)) < 1e-6, "block \(b.index)")
      // The entropy table of the block: one entropy and one frozen fraction per head.
      let table = try #require(m.entropy.first { $0.block == b.index }, "no entropy table for block \(b.index)")
      #expect(table.headEntropy.count == b.heads && table.frozenFraction.count == b.heads)
      #expect(table.headEntropy.allSatisfy { $0 > 0 && Double($0) <= Foundation.log(Double(t)) + 1e-6 })
      for h in 0..<b.heads {
        let entries = b.frozen.first { $0.head == h }?.frozenEntries ?? 0
        #expect(abs(Double(table.frozenFraction[h]) - Double(entries) / Double(t * t)) < 1e-6, "block \(b.index) head \(h)")
      }
      frozenTotal += blockFrozen
      entriesTotal += b.heads * t * t
    }
    // The global budget: exactly the requested fraction of all entries.
    let sparsity = try #require(fixture.sparsity)
    #expect(frozenTotal == Int((Double(entriesTotal) * sparsity).rounded()))
    #expect(abs(try fixture.load().frozenAttentionFraction - Double(frozenTotal) / Double(entriesTotal)) < 1e-12)
    #expect(m.compile.arguments.contains("--sparsity=\(sparsity)") && m.compile.arguments.contains("--attn-bits=2"))
    try expectCalibration(m, fixture)
  }

  @Test func wholeFrozenHeadIsWhereTheArtifactSaysAndOnlyThere() throws {
    let m = try Artifact(path: try RuntimeFixture.named("dinov2_small.eam98.eam").path).manifest
    #expect(m.blocks.map { $0.frozen.filter(\.wholeHead).count } == [1, 0])
    #expect(m.blocks.map(\.frozen.count) == [2, 2])
    let m30 = try Artifact(path: try RuntimeFixture.named("dinov2_small.eam30.eam").path).manifest
    #expect(m30.blocks.allSatisfy { $0.frozen.count == $0.heads && !$0.frozen.contains(where: \.wholeHead) })
  }

  /// Frozen entries keep their value exactly; the free ones share what is left, so a row with a
  /// free entry sums to 1; a whole-frozen head computes no scores (the observer never sees it).
  /// Also with the fused kernel loaded: an observed head then runs unfused from the fused layout.
  @Test(arguments: frozen, [AttentionKernel.unfused, .fused])
  func forwardPassUsesTheFrozenMaps(fixture: RuntimeFixture, attention: AttentionKernel) throws {
    let artifact = try Artifact(path: fixture.path)
    let m = artifact.manifest
    let t = m.architecture.prefixTokens + m.architecture.patchTokens
    var maps: [String: DecodedMap] = [:]
    for b in m.blocks { for f in b.frozen { maps["\(b.index)/\(f.head)"] = try DecodedMap(f, tokens: t, artifact: artifact) } }
    var options = LoadOptions()
    options.attention = attention
    let model = try Model(artifact: artifact, options: options)
    let log = MapLog()
    model.attentionObserver = log.observer
    let x = try fixture.inputBatch()
    let out = try model.run(x.values, batch: 2)
    #expect(out.allSatisfy { $0.isFinite })
    var expectedCalls = 0
    for b in m.blocks { expectedCalls += 2 * b.frozen.filter { !$0.wholeHead }.count + 2 * (b.heads - b.frozen.count) }
    let calls = log.calls
    #expect(calls.count == expectedCalls)
    var rowsChecked = 0
    for c in calls {
      let key = "\(c.block)/\(c.head)"
      #expect(c.tokens == t)
      guard let f = maps[key] else {  // a head without a frozen map: a plain softmax
        for r in 0..<t { #expect(abs(c.rowSum(r) - 1) < 1e-5, "\(key) row \(r)") }
        continue
      }
      #expect(m.blocks[c.block].frozen.first { $0.head == c.head }?.wholeHead == false, "whole-frozen head \(key) was observed")
      for r in 0..<t {
        var frozenMass: Float = 0, sum: Float = 0, hasFree = false
        for j in 0..<t {
          let i = r * t + j
          sum += c.map[i]
          if f.frozen[i] {
            frozenMass += f.values[i]
            #expect(c.map[i].bitPattern == f.values[i].bitPattern, "\(key) entry (\(r), \(j)): \(c.map[i]) != \(f.values[i])")
          } else {
            hasFree = true
            #expect(c.map[i] >= 0)
          }
        }
        if hasFree && frozenMass <= 1 {
          #expect(abs(sum - 1) < 1e-5, "\(key) row \(r) sums to \(sum)")
          rowsChecked += 1
        }
      }
    }
    #expect(rowsChecked > 0)
  }

  /// The calibrated Swin (nothing frozen: frozen windows are not supported yet) records its
  /// calibration and computes exactly what the plain compile does.
  @Test func calibratedSwinRecordsItsCalibrationAndFreezesNothing() throws {
    let fixture = try RuntimeFixture.named("swin_tiny.calib.eam")
    let m = try Artifact(path: fixture.path).manifest
    #expect(m.architecture.family == .swin && m.blocks.allSatisfy { $0.frozen.isEmpty && $0.frozenFraction == 0 })
    #expect(m.compile.arguments.contains("--sparsity=0.0"))
    try expectCalibration(m, fixture)
    let plain = try RuntimeFixture.named("swin_tiny.eam")
    let x = try fixture.inputBatch()
    let a = try fixture.load().run(x.values, batch: 2), b = try plain.load().run(x.values, batch: 2)
    #expect(bitDifference(a, b) == nil)
  }

  /// The manifest names as many calibration images as the folder holds, and the set's hash.
  private func expectCalibration(_ m: Manifest, _ fixture: RuntimeFixture) throws {
    let folder = try #require(fixture.calibrationImages)
    let images = try FileManager.default.contentsOfDirectory(atPath: Paths.repository(folder))
      .filter { [".jpg", ".jpeg", ".png"].contains(where: $0.lowercased().hasSuffix) }
    #expect(images.count == 12 && m.calibration.images == images.count)
    #expect(m.calibration.setSHA256.count == 64 && m.calibration.setSHA256.allSatisfy { $0.isHexDigit })
  }
}
