import Foundation
import Testing
import EAMRuntime

/// The committed float artifacts (Tests/Fixtures/runtime, compiled from Tests/Fixtures/models)
/// match timm (or transformers) on the same input: f32 weights to cosine 0.99999 and relative L2
/// 1e-4, f16 weights to cosine 0.9995.
@Suite struct MatchesReference {
  static let withReference = RuntimeFixture.all.filter { $0.reference != nil }

  @Test func everyFloatModelAndEveryF16OneHasAReference() {
    let f32 = Self.withReference.filter { $0.weights == "f32" }.map(\.model)
    let f16 = Self.withReference.filter { $0.weights == "f16" }.map(\.model)
    #expect(Set(f32) == ["vit_tiny", "vit_gap", "vit_features", "deit_tiny", "deit_distilled", "dinov2_small",
                         "dinov2_reg", "lambda_vit_shrunk", "hf_vit", "hf_dinov2", "swin_tiny"])
    #expect(Set(f16) == ["vit_tiny", "dinov2_small", "deit_distilled", "swin_tiny"])
  }

  @Test(arguments: withReference)
  func committedArtifact(fixture: RuntimeFixture) throws {
    let model = try fixture.load()
    let x = try fixture.inputBatch()
    let y = try NPYArray(path: Paths.repository(fixture.reference!))
    let out = try model.run(x.values, batch: x.shape[0])
    #expect([x.shape[0], model.outputWidth] == y.shape)
    #expect(Array(x.shape.dropFirst()) == model.inputShape)
    let (cosine, rel) = agreement(out, y.values)
    if fixture.weights == "f32" {
      #expect(cosine >= 0.99999, "\(fixture): cosine \(cosine)")
      #expect(rel <= 1e-4, "\(fixture): relative L2 \(rel)")
    } else {
      #expect(cosine >= 0.9995, "\(fixture): cosine \(cosine) with f16 weights")
    }
  }
}
