import Foundation
import Testing
@testable import EAMCompiler

/// No command overwrites one of its inputs, a run's outputs appear together or not at all, and
/// output folders are checked before any work.
@Suite struct OutputSetTests {
  static let model = AtomicOutput.root.appendingPathComponent("Tests/Fixtures/models/vit_tiny.safetensors").path
  static let images = AtomicOutput.root.appendingPathComponent("examples/images/calib").path

  func freshFolder() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-outputs-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
  }

  func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

  /// A copy of the small model in a fresh folder, and its bytes.
  func modelCopy(_ dir: String) throws -> (String, Data) {
    let path = dir + "/model.safetensors"
    try FileManager.default.copyItem(atPath: Self.model, toPath: path)
    return (path, try #require(contents(path)))
  }

  /// `-o` naming the checkpoint itself, a symbolic link to it or a hard link to it: refused before
  /// any work with one line naming both; the checkpoint is left byte for byte.
  @Test(arguments: ["itself", "symlink", "hardlink"])
  func compileNeverOverwritesItsCheckpoint(_ how: String) throws {
    let dir = freshFolder()
    let (model, original) = try modelCopy(dir)
    let output: String
    switch how {
    case "itself": output = model
    case "symlink":
      output = dir + "/model.eam"
      try FileManager.default.createSymbolicLink(atPath: output, withDestinationPath: "model.safetensors")
    default:
      output = dir + "/model.eam"
      try FileManager.default.linkItem(atPath: model, toPath: output)
    }
    let run = try ToolRun(try AtomicOutput.eamc(), ["compile", model, "-o", output, "--heads", "2"])
    #expect(run.failedWithOneLine, "\(how): status \(run.status), stderr: \(run.stderr)")
    #expect(run.stderr.contains(output) && run.stderr.contains("checkpoint \(model)"), "\(run.stderr)")
    #expect(contents(model) == original)
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == Set(["model.safetensors"] + (how == "itself" ? [] : ["model.eam"])))
  }

  /// Every input of every command that writes: statistics, calibration and held-out images, the
  /// artifact and input of `run`; outputs that would be each other (also through a folder link,
  /// before either exists).
  @Test(arguments: ["stats as artifact", "calibration image as report", "held-out image as artifact",
                    "calibrate over checkpoint", "calibrate over image", "run output over artifact",
                    "run output over input", "report is artifact", "report through folder link"])
  func inputsAndOutputsAreNeverTheSameFile(_ kind: String) throws {
    let eamc = try AtomicOutput.eamc()
    let dir = freshFolder()
    let (model, _) = try modelCopy(dir)
    let calib = dir + "/calib"
    try FileManager.default.createDirectory(atPath: calib, withIntermediateDirectories: true)
    let image = calib + "/a.jpg"
    let sourceImage = try FileManager.default.contentsOfDirectory(atPath: Self.images).filter { $0.hasSuffix(".jpg") }.sorted()[0]
    try FileManager.default.copyItem(atPath: Self.images + "/" + sourceImage, toPath: image)
    let stats = dir + "/part.eamstats"
    _ = FileManager.default.createFile(atPath: stats, contents: Data("not really statistics".utf8))
    let artifact = dir + "/model.eam"
    _ = FileManager.default.createFile(atPath: artifact, contents: Data("previous artifact".utf8))
    let npy = dir + "/x.npy"
    _ = FileManager.default.createFile(atPath: npy, contents: Data("previous input".utf8))
    try FileManager.default.createSymbolicLink(atPath: dir + "/same", withDestinationPath: ".")
    let eam = ["--heads", "2", "--sparsity", "0.1"]
    // A report must be named .json or .html, and held-out images must not be calibration images
    // (both checked first): the report cases reach the calibration image through a .json hard
    // link, the held-out case uses a second folder.
    let imageAsReport = dir + "/image.json"
    try FileManager.default.linkItem(atPath: image, toPath: imageAsReport)
    let eval = dir + "/eval"
    try FileManager.default.createDirectory(atPath: eval, withIntermediateDirectories: true)
    let heldOut = eval + "/b.jpg"
    let otherImage = try FileManager.default.contentsOfDirectory(atPath: Self.images).filter { $0.hasSuffix(".jpg") }.sorted()[1]
    try FileManager.default.copyItem(atPath: Self.images + "/" + otherImage, toPath: heldOut)
    let (arguments, named): ([String], [String]) = switch kind {
    case "stats as artifact": (["compile", model, "-o", stats, "--stats", stats] + eam, [stats])
    case "calibration image as report": (["compile", model, "-o", dir + "/new.eam", "--calib", calib, "--report", imageAsReport] + eam, [imageAsReport])
    case "held-out image as artifact": (["compile", model, "-o", heldOut, "--heads", "2", "--eval", eval, "--calib", calib, "--sparsity", "0.1"], [heldOut])
    case "calibrate over checkpoint": (["calibrate", model, "--calib", calib, "-o", model, "--heads", "2"], [model])
    case "calibrate over image": (["calibrate", model, "--calib", calib, "-o", image, "--heads", "2"], [image])
    case "run output over artifact": (["run", artifact, "--input", npy, "--output", artifact], [artifact])
    case "run output over input": (["run", artifact, "--input", npy, "--output", npy], [npy])
    case "report is artifact": (["compile", model, "-o", dir + "/new.json", "--calib", calib, "--report", dir + "/new.json"] + eam, [dir + "/new.json"])
    default: (["compile", model, "-o", dir + "/new.json", "--calib", calib, "--report", dir + "/same/new.json"] + eam,
              [dir + "/new.json", dir + "/same/new.json"])
    }
    let before = try snapshot(dir)
    let run = try ToolRun(eamc, arguments)
    #expect(run.failedWithOneLine, "\(kind): status \(run.status), stderr: \(run.stderr)")
    for name in named { #expect(run.stderr.contains(name), "\(kind): \(run.stderr)") }
    #expect(run.stderr.contains("same file"), "\(kind): \(run.stderr)")
    #expect(try snapshot(dir) == before, "\(kind): files changed")
  }

  /// Every file in `dir` and `dir/calib` with its bytes.
  func snapshot(_ dir: String) throws -> [String: Data] {
    var out: [String: Data] = [:]
    for folder in [dir, dir + "/calib", dir + "/eval"] where FileManager.default.fileExists(atPath: folder) {
      for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
        out[folder + "/" + name] = contents(folder + "/" + name) ?? Data()
      }
    }
    return out
  }

  /// A report that cannot be written fails the compile before any work, and the previous
  /// artifact and report survive byte for byte.
  @Test(arguments: ["missing folder", "report is a folder", "unwritable folder"])
  func unwritableReportFailsBeforeWork(_ kind: String) throws {
    let dir = freshFolder()
    let artifact = dir + "/model.eam", report = dir + "/model.report.json"
    let previous = Data("previous artifact".utf8), previousReport = Data("previous report".utf8)
    _ = FileManager.default.createFile(atPath: artifact, contents: previous)
    _ = FileManager.default.createFile(atPath: report, contents: previousReport)
    let target: String, folder: String
    switch kind {
    case "missing folder": (target, folder) = (dir + "/missing/r.json", dir + "/missing")
    case "report is a folder":
      try FileManager.default.createDirectory(atPath: dir + "/r.json", withIntermediateDirectories: true)
      (target, folder) = (dir + "/r.json", dir + "/r.json")
    default: (target, folder) = try unwritableFolder(dir)
    }
    let start = Date()
    let run = try ToolRun(try AtomicOutput.eamc(), ["compile", Self.model, "-o", artifact, "--heads", "2",
                                                    "--calib", Self.images, "--sparsity", "0.2", "--report", target])
    #expect(run.failedWithOneLine && run.stderr.contains(folder), "\(kind): \(run.stderr)")
    #expect(Date().timeIntervalSince(start) < 5, "\(kind): the folder was checked only after calibrating")
    #expect(contents(artifact) == previous)
    #expect(contents(report) == previousReport)
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)).isSubset(of: ["model.eam", "model.report.json", "r.json", "ro"]))
  }

  /// A folder this process cannot write into (root writes anywhere, but not into /proc/1).
  func unwritableFolder(_ dir: String) throws -> (String, String) {
    if getuid() == 0 { return ("/proc/1/r.json", "/proc/1") }
    let ro = dir + "/ro"
    try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
    chmod(ro, 0o555)
    return (ro + "/r.json", ro)
  }

  /// `eamc calibrate` into a missing or unwritable folder stops before calibrating.
  @Test(arguments: [false, true])
  func calibrateChecksItsFolderFirst(_ unwritable: Bool) throws {
    let dir = freshFolder()
    let (target, folder) = unwritable ? try unwritableFolder(dir) : (dir + "/missing/s.eamstats", dir + "/missing")
    let start = Date()
    let run = try ToolRun(try AtomicOutput.eamc(), ["calibrate", Self.model, "--calib", Self.images, "-o", target, "--heads", "2"])
    #expect(run.failedWithOneLine && run.stderr.contains(folder), "\(run.stderr)")
    #expect(Date().timeIntervalSince(start) < 5)
  }

  /// The second rename fails after the first succeeded: the first output gets its previous
  /// file back, the second keeps its own, and nothing else is left in the folder.
  @Test(arguments: [true, false])
  func failureAfterTheFirstRenameRestoresEverything(_ previousFiles: Bool) throws {
    let dir = freshFolder()
    let a = dir + "/a.eam", b = dir + "/a.report.json"
    let oldA = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13) }), oldB = Data("old report".utf8)
    if previousFiles {
      _ = FileManager.default.createFile(atPath: a, contents: oldA)
      _ = FileManager.default.createFile(atPath: b, contents: oldB)
    }
    var renames = 0
    #expect {
      try OutputSet.commit([(a, Array("new artifact".utf8)), (b, Array("new report".utf8))]) { from, to in
        renames += 1
        if to == b {
          errno = EIO
          return -1
        }
        return Glibc.rename(from, to)
      }
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix(b + ": write failed") && text.contains("nothing was written") && !text.contains("\n")
    }
    #expect(renames == 2)
    let left = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    if previousFiles {
      #expect(left == ["a.eam", "a.report.json"])
      #expect(contents(a) == oldA)
      #expect(contents(b) == oldB)
    } else {
      #expect(left.isEmpty, "left behind: \(left)")
    }
  }

  /// Both outputs replaced on success, no temporary or backup left; hard links to the previous
  /// file keep the previous bytes (the new file is a new inode).
  @Test func successReplacesAllAndKeepsOtherLinksIntact() throws {
    let dir = freshFolder()
    let a = dir + "/a.eam", b = dir + "/b.json", keep = dir + "/keep.eam"
    _ = FileManager.default.createFile(atPath: a, contents: Data("old".utf8))
    try FileManager.default.linkItem(atPath: a, toPath: keep)
    try OutputSet.commit([(a, Array("new a".utf8)), (b, Array("new b".utf8))])
    #expect(contents(a) == Data("new a".utf8))
    #expect(contents(b) == Data("new b".utf8))
    #expect(contents(keep) == Data("old".utf8))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["a.eam", "b.json", "keep.eam"])
  }
}
