import Foundation
import Testing
import EAMCompiler

/// `eamc compile` refuses a checkpoint whose pickle names a live payload (here builtins.eval in
/// an unrelated entry), and reads it with `--allow-unsafe-pickle`, the payload never run.
@Suite struct UnsafePickleFlagTests {
  static let checkpoint = AtomicOutput.root.appendingPathComponent("Tests/EAMIngestTests/Fixtures/hostile_vit_eval.pth").path

  @Test func refusedThenAllowed() throws {
    let eamc = try AtomicOutput.eamc()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-unsafe-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let out = dir.appendingPathComponent("m.eam").path
    let refused = try ToolRun(eamc, ["compile", Self.checkpoint, "-o", out, "--heads", "2"])
    #expect(refused.failedWithOneLine && refused.stderr.contains("'builtins.eval', which is not allowed"), "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
    let allowed = try ToolRun(eamc, ["compile", Self.checkpoint, "-o", out, "--heads", "2", "--allow-unsafe-pickle"])
    #expect(allowed.exited && allowed.status == 0, "\(allowed.stderr)")
    #expect(FileManager.default.fileExists(atPath: out))
    #expect(!FileManager.default.fileExists(atPath: "/tmp/eamc_hostile_canary_vit"))
  }

  /// The library option, and the note that reaches the model description.
  @Test func libraryOption() throws {
    var options = CompileOptions()
    options.overrides.heads = 2
    #expect(throws: CompileError.self) { _ = try Compiler.load(Self.checkpoint, overrides: options.overrides) }
    options.reading.allowUnsafePickle = true
    let (_, model) = try Compiler.load(Self.checkpoint, overrides: options.overrides, reading: options.reading)
    #expect(model.notes.contains { $0.contains("'builtins.eval'") && $0.contains("never called") }, "\(model.notes)")
  }
}
