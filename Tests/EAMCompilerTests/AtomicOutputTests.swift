import Foundation
import Testing
import EAMCompiler

/// A failed or interrupted compile leaves no partial file and never replaces an existing one.
@Suite struct AtomicOutput {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  func freshFolder() -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-atomic-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  @Test func failedCompileKeepsThePreviousArtifactAndLeavesNothingElse() throws {
    let dir = freshFolder()
    let out = dir.appendingPathComponent("model.eam").path
    let previous = Data("previous artifact".utf8)
    _ = FileManager.default.createFile(atPath: out, contents: previous)
    let junk = dir.appendingPathComponent("junk.pth").path
    _ = FileManager.default.createFile(atPath: junk, contents: Data((0..<4096).map { UInt8($0 % 251) }))
    var options = CompileOptions()
    options.overrides.heads = 2
    #expect(throws: CompileError.self) { _ = try Compiler.compile(junk, to: out, options: options) }
    #expect(FileManager.default.contents(atPath: out) == previous)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["junk.pth", "model.eam"])
  }

  @Test func writeIntoAMissingFolderFailsWithOneLine() throws {
    let checkpoint = Self.root.appendingPathComponent("Tests/Fixtures/models/vit_tiny.safetensors").path
    var options = CompileOptions()
    options.overrides.heads = 2
    #expect {
      _ = try Compiler.compile(checkpoint, to: "/nonexistent-folder/model.eam", options: options)
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix("/nonexistent-folder/model.eam: ") && !text.contains("\n")
    }
  }

  @Test func killedCompileLeavesNoFile() throws {
    let eamc = Self.root.appendingPathComponent(".build/debug/eamc").path
    // `make test` builds every product before testing; a debug compile of this model takes ~12 s.
    try #require(FileManager.default.isExecutableFile(atPath: eamc), "build eamc first (swift build --build-tests)")
    let dir = freshFolder()
    let out = dir.appendingPathComponent("dinov2.eam").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: eamc)
    process.arguments = ["compile", Self.root.appendingPathComponent("examples/models/dinov2_vits14_224.fp16.safetensors").path,
                         "-o", out]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    usleep(300_000)
    // SIGTERM: a test runner may leave SIGINT ignored, and that disposition is inherited across
    // exec (eamc respects it); SIGTERM takes the same path as Ctrl-C in eamc.
    process.terminate()
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal || process.terminationStatus == 128 + SIGTERM,
            "the compile finished before the interrupt")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }
}
