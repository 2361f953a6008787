import Foundation
import Testing
@testable import EAMIngest

/// The real DINOv2 ViT-S/14 checkpoint shared by the project (`../shared/models`).
@Suite struct DinoTests {
  static let path: String = {
    // Three levels up from this file is the package root.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    return root.appendingPathComponent("../shared/models/dinov2_vits14_224.pth").standardized.path
  }()

  @Test func readsDinoV2Quickly() throws {
    let start = ContinuousClock.now
    let ck = try CheckpointReader.read(path: Self.path)
    let elapsed = ContinuousClock.now - start
    let total = ck.tensors.values.reduce(0) { $0 + $1.count }
    #expect(total > 21_000_000 && total < 23_000_000, "\(total) floats")
    #expect(ck.format == .torchZip)
    #expect(ck.tensors["blocks.0.attn.qkv.weight"]?.shape == [1152, 384])
    #expect(ck.tensors["pos_embed"]?.shape == [1, 257, 384])
    #expect(ck.tensors["pos_embed"]?.values.allSatisfy(\.isFinite) == true)
    #expect(ck.names.first == "cls_token" || ck.names.contains("cls_token"))
    #expect(elapsed < .seconds(2), "took \(elapsed)")
  }
}
