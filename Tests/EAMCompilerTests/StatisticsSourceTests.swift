import Foundation
import Testing
import EAMCompiler

/// Statistics given with `--stats` must describe the model being compiled.
@Suite struct StatisticsSourceTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let checkpoint = root.appendingPathComponent("Tests/Fixtures/models/dinov2_small.safetensors").path

  @Test func statisticsOfAnotherHeadSplitAreRefusedWithOneLine() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-stats-source-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let stats = dir.appendingPathComponent("one-head.eamstats").path
    var o = CompileOptions()
    o.overrides.heads = 1
    o.calibration.progress = false
    o.calibration.count = 2
    let images = try ImageFolder.list(Self.root.appendingPathComponent("examples/images/calib").path)
    _ = try Compiler.calibrate(Self.checkpoint, images: images, options: o, to: stats)

    o.overrides.heads = 2
    o.eam = EAMOptions()
    o.statisticsFiles = [stats]
    let artifact = dir.appendingPathComponent("two-heads.eam").path
    #expect {
      _ = try Compiler.compile(Self.checkpoint, to: artifact, options: o)
    } throws: { error in
      let message = (error as? CompileError)?.description ?? ""
      return message.hasPrefix(stats + ": statistics have [1, 1] heads") && !message.contains("\n")
    }
    #expect(!FileManager.default.fileExists(atPath: artifact))
  }
}
