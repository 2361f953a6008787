import Foundation
import Testing
import EAMKernels
import EAMRuntime

/// f16 linear weights are used in place (`Kernels.linearF16` widens them in registers): the same
/// numbers as widening them at load, in every kernel variant, with half the weight memory.
@Suite struct F16WeightsInPlace {
  static let f16 = RuntimeFixture.all.filter { $0.weights == "f16" }

  @Test func thereAreF16Fixtures() { #expect(Self.f16.count >= 3) }

  @Test(arguments: f16)
  func sameOutputsAsWidenedAtLoad(fixture: RuntimeFixture) throws {
    let x = try fixture.inputBatch()
    var widened = LoadOptions(), inPlace = LoadOptions()
    widened.widenF16 = true
    widened.threads = 1
    inPlace.threads = 1
    let a = try Model(path: fixture.path, options: inPlace), b = try Model(path: fixture.path, options: widened)
    for variant in KernelVariant.allCases where variant.isSupported {
      let (p, q) = try variant.withThreadVariant { () throws -> ([Float], [Float]) in
        (try a.run(x.values, batch: x.shape[0]), try b.run(x.values, batch: x.shape[0]))
      }
      #expect(bitDifference(p, q) == nil, "\(fixture) \(variant.name): \(bitDifference(p, q) ?? "")")
      if let committed = try fixture.committedOutput(variant.name) {
        #expect(bitDifference(p, committed.values) == nil, "\(fixture) \(variant.name) vs committed")
      }
    }
    // In place, only non-linear tensors (norms, biases, tokens) are widened: far fewer bytes.
    #expect(a.copiedWeightBytes * 4 < b.copiedWeightBytes, "\(a.copiedWeightBytes) vs \(b.copiedWeightBytes)")
  }
}
