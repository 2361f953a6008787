import Foundation
import Testing
import EAMCompiler

/// A failed or interrupted compile leaves no partial file and never replaces an existing one.
@Suite struct AtomicOutput {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// The `eamc` built with these tests: beside the test bundle (any scratch path, e.g.
  /// `make sanitize`'s), else `.build/debug`.
  static func eamc() throws -> String {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("eamc").path
    let path = FileManager.default.isExecutableFile(atPath: beside) ? beside : root.appendingPathComponent(".build/debug/eamc").path
    // `make test` builds every product before testing.
    try #require(FileManager.default.isExecutableFile(atPath: path), "build eamc first (swift build --build-tests)")
    return path
  }

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
    // A debug compile of this model takes ~12 s.
    let eamc = try Self.eamc()
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

  /// A full disk, simulated by a file-size limit (`ulimit -f`, 512-byte blocks in `sh`): eamc
  /// ignores SIGXFSZ, so write() fails with EFBIG. The compile must fail with one line naming the
  /// output, remove its temporary, and leave an existing artifact byte for byte as it was.
  @Test(arguments: [false, true])
  func fileSizeLimitFailsWithOneLineAndLeavesNoFile(previousArtifact: Bool) throws {
    let eamc = try Self.eamc()
    let dir = freshFolder()
    let out = dir.appendingPathComponent("model.eam").path
    let previous = Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
    if previousArtifact { _ = FileManager.default.createFile(atPath: out, contents: previous) }
    // The model's artifact is about 460 kB; the limit is 8 blocks of 512 bytes.
    let run = try ToolRun("/bin/sh", ["-c", #"ulimit -f 8 && exec "$0" compile "$1" -o "$2" --heads 2"#, eamc,
                                      Self.root.appendingPathComponent("Tests/Fixtures/models/vit_tiny.safetensors").path, out])
    #expect(run.failedWithOneLine, "status \(run.status), stderr: \(run.stderr)")
    #expect(run.stderr.contains(out) && run.stderr.contains("File too large"), "stderr: \(run.stderr)")
    let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(left == (previousArtifact ? ["model.eam"] : []), "left behind: \(left)")
    if previousArtifact { #expect(FileManager.default.contents(atPath: out) == previous) }
  }

  /// Bad input on the command line: one stderr line naming what is wrong, a non-zero exit, and no
  /// output file (nor a report or temporary) left in the output folder.
  @Test(arguments: ["missing model", "folder as model", "junk model", "empty calibration folder",
                    "sparsity 1.5", "attn-bits 9", "missing calibration folder"])
  func badInputGivesOneLineAndNoFile(_ kind: String) throws {
    let eamc = try Self.eamc()
    let dir = freshFolder()
    let out = dir.appendingPathComponent("out").path
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let model = Self.root.appendingPathComponent("Tests/Fixtures/models/vit_tiny.safetensors").path
    let images = Self.root.appendingPathComponent("examples/images/calib").path
    let empty = dir.appendingPathComponent("empty").path
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    let junk = dir.appendingPathComponent("junk.pth").path
    _ = FileManager.default.createFile(atPath: junk, contents: Data(repeating: 0x5A, count: 1000))
    let artifact = out + "/model.eam"
    let (arguments, named): ([String], String) = switch kind {
    case "missing model": (["compile", dir.path + "/nope.pth", "-o", artifact], "nope.pth")
    case "folder as model": (["compile", empty, "-o", artifact], empty)
    case "junk model": (["compile", junk, "-o", artifact], junk)
    case "empty calibration folder": (["compile", model, "-o", artifact, "--heads", "2", "--calib", empty, "--sparsity", "0.2"], empty)
    case "sparsity 1.5": (["compile", model, "-o", artifact, "--heads", "2", "--calib", images, "--sparsity", "1.5"], "--sparsity")
    case "attn-bits 9": (["compile", model, "-o", artifact, "--heads", "2", "--calib", images, "--sparsity", "0.2", "--attn-bits", "9"], "--attn-bits")
    default: (["compile", model, "-o", artifact, "--heads", "2", "--calib", dir.path + "/no-images", "--sparsity", "0.2"], "no-images")
    }
    let run = try ToolRun(eamc, arguments)
    #expect(run.failedWithOneLine && run.stderr.contains(named), "\(kind): status \(run.status), stderr: \(run.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty, "\(kind): files left in the output folder")
  }
}
