import Foundation
import Testing
import EAMKernels
import EAMRuntime

/// The runtime computes today's numbers exactly: every committed artifact gives, bit for bit, its
/// one recorded output (scripts/make_runtime_fixtures.py, by `eam-run`, the same from
/// EAM_KERNELS=scalar, avx2 and avx512) with every kernel variant, thread count and batch split.
@Suite struct SameNumbers {
  @Test func indexListsEveryArtifactAndItsFiles() throws {
    let all = try RuntimeFixture.index.get()
    #expect(all.count == 18)
    for f in all {
      #expect(FileManager.default.fileExists(atPath: f.path), "\(f.path) is missing")
      #expect(FileManager.default.fileExists(atPath: Paths.repository(f.input)), "\(f): input \(f.input) is missing")
      #expect(!f.outputs.isEmpty, "\(f): no committed output")
    }
  }

  /// Every variant this CPU supports (each on the calling thread only, with one runtime thread).
  @Test(arguments: RuntimeFixture.all)
  func everySupportedVariantGivesItsCommittedOutput(fixture: RuntimeFixture) throws {
    let x = try fixture.inputBatch()
    for variant in KernelVariant.allCases where variant.isSupported {
      let expected = try #require(try fixture.committedOutput(variant.name), "\(fixture): no committed output for \(variant.name)")
      let got = try variant.withThreadVariant {
        try fixture.load(threads: 1).run(x.values, batch: x.shape[0])
      }
      let difference = bitDifference(got, expected.values)
      #expect(difference == nil, "\(fixture), \(variant.name) kernels: \(difference ?? "")")
    }
  }

  /// The variant in use (EAM_KERNELS or the best), with the default thread count and 1 to 3
  /// threads. (That timing attention changes nothing is EAMCompilerTests' `EAMEndToEnd`'s check.)
  @Test(arguments: RuntimeFixture.all)
  func resultDoesNotDependOnThreadCount(fixture: RuntimeFixture) throws {
    let active = KernelVariant.active
    let expected = try #require(try fixture.committedOutput(active.name), "\(fixture): no committed output for \(active.name)")
    let x = try fixture.inputBatch()
    for threads in [nil, 1, 2, 3] {
      let model = try fixture.load(threads: threads)
      let difference = bitDifference(try model.run(x.values, batch: x.shape[0]), expected.values)
      #expect(difference == nil, "\(fixture), \(active.name), threads \(threads.map(String.init) ?? "default"): \(difference ?? "")")
    }
  }

  /// Image by image, a batch of two gives the rows of the batch.
  @Test(arguments: RuntimeFixture.all)
  func batchRowsEqualSingleRuns(fixture: RuntimeFixture) throws {
    let model = try fixture.load()
    let x = try fixture.inputBatch()
    try #require(x.shape[0] == 2)
    let both = try model.run(x.values, batch: 2)
    let per = x.count / 2
    let first = try model.run(Array(x.values[0..<per]), batch: 1)
    let second = try model.run(Array(x.values[per...]), batch: 1)
    #expect(bitDifference(both, first + second) == nil, "\(fixture)")
  }

  /// All blocks in one parallel step split by rows (`BlocksByRows`, what an unobserved ViT runs)
  /// give the bits of block by block with column-split layers (what an observed one runs), at 1
  /// to 3 threads: f32, f16, int8, int4, frozen maps, removed attention alike.
  @Test(arguments: RuntimeFixture.all.filter { !$0.model.hasPrefix("swin") })
  func blocksInOneStepEqualBlockByBlock(fixture: RuntimeFixture) throws {
    let x = try fixture.inputBatch()
    let apart = try fixture.load(threads: 2)
    apart.sublayerObserver = { _, _, _, _, _ in }
    let expected = try apart.run(x.values, batch: x.shape[0])
    for threads in [1, 2, 3] {
      let y = try fixture.load(threads: threads).run(x.values, batch: x.shape[0])
      #expect(bitDifference(y, expected) == nil, "\(fixture), threads \(threads): \(bitDifference(y, expected) ?? "")")
    }
  }

  /// The fixtures record one output per artifact: every variant's entry names the same file.
  @Test func oneOutputForEveryVariant() throws {
    for f in try RuntimeFixture.index.get() {
      #expect(Set(KernelVariant.allCases.filter(\.isSupported).map(\.name)).isSubset(of: f.outputs.keys),
              "\(f): a variant is not listed")
      #expect(Set(f.outputs.values).count == 1, "\(f): outputs \(f.outputs)")
    }
  }
}
