import Foundation
import Testing
@testable import EAMIngest

/// The stdlib-made hostile checkpoints of `scripts/make_hostile_fixtures.py`.
@Suite struct HostileTests {
  /// Refused with one line naming the file, containing the recorded fragment.
  @Test(arguments: Fixtures.hostileSection("refused").keys.sorted())
  func refused(_ name: String) throws {
    let fragment = try #require(Fixtures.hostileSection("refused")[name] as? String)
    #expect {
      _ = try CheckpointReader.read(path: Fixtures.path(name))
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix(Fixtures.path(name) + ": ") && text.contains(fragment) && !text.contains("\n")
    }
  }
}

/// The tensor budget: every container, before allocating.
@Suite struct TensorBudgetTests {
  /// An explicit limit applies to every container (zip, legacy, safetensors, npz, npy).
  @Test(arguments: ["torch_f32_bare.pth", "legacy_f32_bare.pt", "st_f32.safetensors", "np_f32.npz", "v1_f4.npy",
                    "numpy_f32_p4.pkl", "views.pth"])
  func explicitLimit(_ name: String) throws {
    let ck = try CheckpointReader.read(path: Fixtures.path(name))
    let bytes = ck.tensors.values.reduce(0) { $0 + 4 * $1.count }
    // Exactly enough is accepted; one value less is not.
    _ = try CheckpointReader.read(path: Fixtures.path(name), options: ReadOptions(maxTensorBytes: bytes))
    #expect {
      _ = try CheckpointReader.read(path: Fixtures.path(name), options: ReadOptions(maxTensorBytes: bytes - 4))
    } throws: { error in
      "\(error)".contains("past the maxTensorBytes limit of \(bytes - 4) bytes")
    }
  }

  /// The default: 4 bytes per file byte plus 4 MiB, saturating instead of overflowing.
  @Test func defaultBudget() {
    #expect(ReadOptions.defaultTensorBytes(fileSize: 1000) == 4000 + 4 * 1024 * 1024)
    #expect(ReadOptions.defaultTensorBytes(fileSize: Int.max / 2) == Int.max)
    #expect(ReadOptions.defaultTensorBytes(fileSize: -5) == 4 * 1024 * 1024)
  }
}
