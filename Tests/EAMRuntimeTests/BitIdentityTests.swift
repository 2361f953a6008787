import Foundation
import Testing
import EAMKernels
import EAMRuntime

/// The runtime computes today's numbers exactly: every committed artifact gives, bit for bit, the
/// output recorded for each kernel variant (scripts/make_runtime_fixtures.py, by `eam-run` with
/// EAM_KERNELS=scalar|avx2|avx512), whatever the thread count and batch split.
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
      let expected = try #require(try fixture.committedOutput(variant.name),
                                  "\(fixture): no committed output for \(variant.name) kernels (make runtime-fixtures on a CPU with them)")
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

  @Test func variantsReallyDifferSoEachIsChecked() throws {
    // Otherwise a runtime that ignored the variant would pass the tests above.
    let f = try RuntimeFixture.named("deit_tiny.eam")
    let outputs = try KernelVariant.allCases.compactMap { try f.committedOutput($0.name)?.values }
    #expect(outputs.count == KernelVariant.allCases.count)
    for i in outputs.indices { for j in outputs.indices where i < j { #expect(bitDifference(outputs[i], outputs[j]) != nil) } }
  }
}
