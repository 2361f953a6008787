import Foundation
import Testing
import EAMFormat
import EAMKernels
import EAMRuntime

/// The fused attention kernel in the forward pass (`LoadOptions.attention`): the ViT-family
/// artifacts, float and with frozen maps (partly and whole-frozen heads), forced fused, against
/// the unfused path in every kernel variant; `.automatic` keeps small models unfused.
@Suite struct FusedAttentionInTheForwardPass {
  static let vit = RuntimeFixture.all.filter { (try? Artifact(path: $0.path).manifest.architecture.family) != .swin }

  @Test func thereAreFrozenAndFloatFixtures() {
    #expect(Self.vit.contains { $0.isCalibrated } && Self.vit.contains { !$0.isCalibrated })
  }

  /// The fused kernel really runs: its sums are ordered differently, so some outputs differ in
  /// the last bits from the unfused path's.
  @Test func fusedReallyRuns() throws {
    var differing = 0
    for fixture in Self.vit {
      let x = try fixture.inputBatch()
      var fused = LoadOptions(), unfused = LoadOptions()
      fused.attention = .fused
      unfused.attention = .unfused
      let p = try Model(path: fixture.path, options: fused).run(x.values, batch: x.shape[0])
      let q = try Model(path: fixture.path, options: unfused).run(x.values, batch: x.shape[0])
      if bitDifference(p, q) != nil { differing += 1 }
    }
    #expect(differing * 2 >= Self.vit.count, "\(differing) of \(Self.vit.count) differ")
  }

  @Test(arguments: vit)
  func fusedAgreesWithUnfused(fixture: RuntimeFixture) throws {
    let x = try fixture.inputBatch()
    var fused = LoadOptions(), unfused = LoadOptions()
    fused.attention = .fused
    unfused.attention = .unfused
    fused.threads = 2
    unfused.threads = 1
    let a = try Model(path: fixture.path, options: fused), b = try Model(path: fixture.path, options: unfused)
    for variant in KernelVariant.allCases where variant.isSupported {
      let (p, q) = try variant.withThreadVariant { () throws -> ([Float], [Float]) in
        (try a.run(x.values, batch: x.shape[0]), try b.run(x.values, batch: x.shape[0]))
      }
      let (cosine, rel) = agreement(p, q)
      #expect(cosine >= 0.99999 && rel <= 1e-4, "\(fixture) \(variant.name): cosine \(cosine), relative L2 \(rel)")
      #expect(p.allSatisfy { $0.isFinite })
    }
  }

  /// Small models run unfused by default, so their committed outputs hold bit for bit.
  @Test func automaticIsUnfusedBelowTheThreshold() throws {
    for fixture in Self.vit {
      let x = try fixture.inputBatch()
      var options = LoadOptions()
      options.threads = 1
      let out = try Model(path: fixture.path, options: options).run(x.values, batch: x.shape[0])
      var unfused = options
      unfused.attention = .unfused
      #expect(bitDifference(out, try Model(path: fixture.path, options: unfused).run(x.values, batch: x.shape[0])) == nil)
    }
    #expect(AttentionKernel.fusedFromTokens > 257)
  }
}
