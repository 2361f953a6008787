import Foundation
import Testing
@testable import EAMCompiler
import EAMFormat

/// `--memory-budget` of `eamc run` and `eam-run`, and `eamc inspect` on manifests whose values are
/// out of their domain (checksums valid): one line, never a trap.
@Suite struct MemoryBudgetFlags {
  static let artifact = CLIRun.path("Tests/Fixtures/runtime/vit_tiny.eam")
  static let input = CLIRun.path("Tests/Fixtures/models/vit_tiny.input.npy")

  @Test func aBudgetTooSmallIsRefusedInOneLine() throws {
    let dir = CLIRun.folder("memory-budget")
    let y = dir.appendingPathComponent("y.npy").path
    let eamc = try CLIRun.eamc("run", Self.artifact, "--input", Self.input, "--output", y, "--memory-budget", "64K", "-q")
    #expect(eamc.status == 1 && eamc.stderr.contains("over the memory budget of 64.0 KiB"), "\(eamc.stderr)")
    #expect(eamc.stderr.split(separator: "\n").count == 1)
    #expect(!FileManager.default.fileExists(atPath: y))
    let run = try CLIRun("eam-run", [Self.artifact, Self.input, y, "--memory-budget", "64K"])
    #expect(run.status == 1 && run.stderr.hasPrefix("eam-run: error: " + Self.artifact + ": the model needs "), "\(run.stderr)")
    #expect(run.stderr.split(separator: "\n").count == 1)
    // Enough: both run.
    #expect(try CLIRun("eam-run", [Self.artifact, Self.input, y, "--memory-budget", "64M"]).status == 0)
    #expect(try CLIRun.eamc("run", Self.artifact, "--input", Self.input, "--output", y, "--memory-budget", "64M", "-q").status == 0)
  }

  @Test func aBadSizeIsAUsageError() throws {
    #expect(try CLIRun("eam-run", [Self.artifact, Self.input, "y.npy", "--memory-budget", "lots"]).status == 2)
    #expect(try CLIRun("eam-run", [Self.artifact, Self.input, "y.npy", "--memory-budget"]).status == 2)
    #expect(try CLIRun.eamc("run", Self.artifact, "--input", Self.input, "--memory-budget", "0", "-q").status == 2)
  }

  /// A manifest with NaN and huge values: inspect shows it (no Double → Int trap), `--verify`
  /// reports the first value out of its domain, and a section over the budget is not decompressed.
  @Test func inspectShowsAndVerifyRefusesValuesOutOfTheirDomain() throws {
    let original = try Artifact(path: Self.artifact)
    let sections = try original.sections.map { s in
      SectionPayload(name: s.name, dtype: s.dtype, shape: s.shape, layout: s.layout, compression: .zstd, bytes: try original.rawBytes(s))
    }
    var m = original.manifest
    m.blocks[0].frozenFraction = .nan
    m.blocks[1].frozenFraction = 1e30
    m.architecture.imageSize = Int(UInt32.max)
    m.architecture.patchSize = 1
    m.architecture.normEps = .infinity
    let bytes = try ArtifactWriter.encode(manifest: m, sections: sections)
    var inspection = Inspection(artifact: try Artifact(bytes: bytes, name: "odd.eam"))
    #expect(inspection.text.contains("nan"))
    _ = inspection.json.text
    inspection.verify(memoryBudget: 1 << 30)
    let failure = try #require(inspection.firstFailure)
    #expect(failure.description.hasPrefix("odd.eam: manifest: image size"), "\(failure)")
    var small = Inspection(artifact: try Artifact(bytes: bytes, name: "odd.eam"))
    small.verify(memoryBudget: 1024)
    #expect(small.verified.values.contains(false))
    #expect(small.text.contains("FAILED"))
  }
}
