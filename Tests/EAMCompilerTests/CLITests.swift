import Foundation
import Testing
import EAMCompiler

/// The command line as a new user meets it: help with examples and exit codes, usage errors
/// (status 2) told apart from input errors (status 1), every check before the long work, the
/// configuration first, `--json` as one object.
@Suite struct CLITests {
  static let model = CLIRun.path("Tests/Fixtures/models/vit_tiny.safetensors")
  static let calib = CLIRun.path("examples/images/calib")
  static let eval = CLIRun.path("examples/images/eval")

  @Test(arguments: ["compile", "calibrate", "inspect", "run", "bench", "eval", "diff"])
  func helpHasAnExampleAndTheExitCodes(_ command: String) throws {
    let run = try CLIRun("eamc", [command, "--help"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("eamc \(command) "), "no worked example in \(command) --help")
    #expect(run.stdout.contains("Exit status: 0 ok; 1 "), "no exit codes in \(command) --help")
    #expect(run.stdout.contains("-q, --quiet") && run.stdout.contains("-v, --verbose"))
  }

  @Test func choicesAreListedInHelp() throws {
    let text = try CLIRun.eamc("compile", "--help").stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
    #expect(text.contains("--select <select>") && text.contains("values: weighted-entropy, entropy, std, random"), "\(text)")
    #expect(text.contains("values: global, per-layer, per-head"))
  }

  /// A negative value is read as a value and refused for its range, with status 2.
  @Test func negativeSparsityIsOutOfRangeNotMissing() throws {
    let run = try CLIRun.eamc("compile", Self.model, "-o", "/tmp/never.eam", "--calib", Self.calib, "--sparsity", "-0.1")
    #expect(run.status == 2)
    #expect(run.stderr.contains("--sparsity must be between 0 and 1, not -0.1"), "\(run.stderr)")
    #expect(run.stderrLines.count == 1)
  }

  @Test func parserErrorsExitWithTwo() throws {
    #expect(try CLIRun.eamc("compile", Self.model, "--no-such-flag").status == 2)
    #expect(try CLIRun.eamc("compile", Self.model, "-o", "/tmp/x.eam", "--select", "best").status == 2)
    #expect(try CLIRun.eamc("nonsense").status == 2)
  }

  /// `--threads 0` is refused the same way by every command.
  @Test(arguments: [["calibrate", model, "--calib", calib, "-o", "/tmp/never.eamstats"], ["compile", model, "-o", "/tmp/never.eam"],
                    ["run", "/tmp/none.eam", "--image", "a.jpg"], ["bench", "--gemm"], ["eval", "a.eam", "--reference", model, "--images", calib]])
  func threadsZeroIsAUsageErrorEverywhere(_ arguments: [String]) throws {
    let run = try CLIRun("eamc", arguments + ["--threads", "0"])
    #expect(run.status == 2 && run.stderr.contains("--threads must be 1 to 1024, not 0"), "\(arguments[0]): \(run.stderr)")
  }

  @Test func imageSizeThatTheCheckpointFixesIsRefused() throws {
    let dir = CLIRun.folder("image-size")
    let run = try CLIRun.eamc("compile", Self.model, "-o", dir.appendingPathComponent("m.eam").path, "--heads", "2", "--image-size", "100")
    #expect(run.status == 2 && run.stderr.contains("fixes the image size at 32"), "\(run.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  @Test func calibBesideStatsIsRefusedWhenUnused() throws {
    let dir = CLIRun.folder("calib-stats")
    let stats = dir.appendingPathComponent("s.eamstats").path
    let made = try CLIRun.eamc("calibrate", Self.model, "--heads", "2", "--calib", Self.calib, "-o", stats, "-q")
    try #require(made.status == 0, "\(made.stderr)")
    let run = try CLIRun.eamc("compile", Self.model, "--heads", "2", "-o", dir.appendingPathComponent("m.eam").path, "--stats", stats,
                              "--calib", Self.calib, "--eval", Self.eval, "--sparsity", "0.2", "--select", "entropy")
    #expect(run.status == 2 && run.stderr.contains("--calib is not used beside --stats"), "\(run.stderr)")
    // Without held-out images the calibration images serve the per-block error: explained.
    let explained = try CLIRun.eamc("compile", Self.model, "--heads", "2", "-o", dir.appendingPathComponent("m.eam").path,
                                    "--stats", stats, "--calib", Self.calib, "--sparsity", "0.2")
    #expect(explained.status == 0 && explained.stdout.contains("not calibrated again"), "\(explained.stderr)")
    // --stats alone: nothing to measure the output sensitivity on; plain entropy, said up front
    // and in the report.
    let alone = try CLIRun.eamc("compile", Self.model, "--heads", "2", "-o", dir.appendingPathComponent("a.eam").path,
                                "--stats", stats, "--sparsity", "0.2")
    #expect(alone.status == 0 && alone.stdout.contains("ranked by plain entropy"), "\(alone.stdout) \(alone.stderr)")
    let report = try String(contentsOfFile: dir.appendingPathComponent("a.report.json").path, encoding: .utf8)
    #expect(report.contains("\"criterion\": \"entropy\"") && report.contains("no calibration images to measure output sensitivity on"))
  }

  /// A missing output folder or report folder is found before calibration starts.
  @Test(arguments: ["artifact", "report"])
  func missingOutputFolderIsFoundFirst(_ which: String) throws {
    let dir = CLIRun.folder("no-folder")
    let good = dir.appendingPathComponent("m.eam").path, bad = dir.appendingPathComponent("missing/m.eam").path
    var args = ["compile", Self.model, "--heads", "2", "--calib", Self.calib, "--sparsity", "0.2", "-o", which == "artifact" ? bad : good]
    if which == "report" { args += ["--report", dir.appendingPathComponent("missing/r.html").path] }
    let run = try CLIRun("eamc", args)
    #expect(run.status == 1 && run.stderr.contains("does not exist"), "\(run.stderr)")
    #expect(!run.stderr.contains("calibrating") && run.stderrLines.count == 1, "\(run.stderr)")
  }

  /// A broken image anywhere in the calibration folder is named before any calibration.
  @Test func brokenCalibrationImageIsFoundFirst() throws {
    let dir = CLIRun.folder("broken-image")
    let images = dir.appendingPathComponent("calib")
    try FileManager.default.copyItem(atPath: Self.calib, toPath: images.path)
    let last = try FileManager.default.contentsOfDirectory(atPath: images.path).sorted().last!
    let victim = images.appendingPathComponent(last)
    let bytes = try Data(contentsOf: victim)
    try bytes.prefix(bytes.count / 3).write(to: victim)
    let run = try CLIRun.eamc("compile", Self.model, "--heads", "2", "--calib", images.path, "--sparsity", "0.2",
                              "-o", dir.appendingPathComponent("m.eam").path)
    #expect(run.status == 1 && run.stderr.contains(last), "\(run.stderr)")
    #expect(!run.stderr.contains("calibrating") && run.stdout.isEmpty, "stdout: \(run.stdout) stderr: \(run.stderr)")
  }

  /// The effective configuration comes first, defaults and the head-count guess included.
  @Test func configurationIsPrintedFirst() throws {
    let dir = CLIRun.folder("config")
    let run = try CLIRun.eamc("compile", Self.model, "-o", dir.appendingPathComponent("m.eam").path)
    try #require(run.status == 0, "\(run.stderr)")
    let lines = run.stdout.split(separator: "\n")
    #expect(lines.first?.hasPrefix("eamc compile: \(Self.model)") == true)
    let heads = try #require(lines.first { $0.contains("heads:") })
    #expect(heads.contains("GUESSED"))
    #expect(lines.contains { $0.contains("preprocessing:") && $0.contains("(default)") })
    #expect(lines.contains { $0.contains("threads:") && $0.contains("kernels") })
    let wrote = try #require(lines.firstIndex { $0.hasPrefix("wrote ") })
    #expect(wrote > lines.firstIndex { $0.contains("heads:") }!)
    #expect(lines[wrote].contains("MiB") && lines[wrote].contains("% of the float32 weights"))
    // inspect says the head count was a guess.
    let inspect = try CLIRun.eamc("inspect", dir.appendingPathComponent("m.eam").path)
    #expect(inspect.stdout.contains("GUESSED"))
    // -q: only results.
    let quiet = try CLIRun.eamc("compile", Self.model, "-o", dir.appendingPathComponent("q.eam").path, "-q")
    #expect(quiet.status == 0 && !quiet.stdout.contains("heads:") && quiet.stderr.isEmpty)
  }

  @Test(arguments: [["compile", "-o", "OUT/m.eam", "--heads", "2", "--calib", "CALIB", "--sparsity", "0.2"],
                    ["calibrate", "-o", "OUT/s.eamstats", "--heads", "2", "--calib", "CALIB"],
                    ["compile", "-o", "OUT/m.eam", "--dry-run", "--calib", "CALIB", "--sparsity", "0.3"]])
  func jsonIsOneObjectOnStdout(_ template: [String]) throws {
    let dir = CLIRun.folder("json")
    let args = [template[0], Self.model] + template.dropFirst().map {
      $0.replacingOccurrences(of: "OUT", with: dir.path).replacingOccurrences(of: "CALIB", with: Self.calib)
    } + ["--json"]
    let run = try CLIRun("eamc", args)
    try #require(run.status == 0, "\(run.stderr)")
    let object = try run.json()
    let configuration = try #require(object["configuration"] as? [String: Any])
    #expect(configuration["family"] as? String == "vit")
    #expect((configuration["heads"] as? [String: Any])?["source"] != nil)
    if template.contains("--dry-run") {
      #expect(object["plan"] != nil)
      #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "a dry run wrote files")
    }
  }

  @Test func benchGemmJSON() throws {
    let run = try CLIRun.eamc("bench", "--gemm", "--json")
    try #require(run.status == 0, "\(run.stderr)")
    let rows = try #require(try run.json()["gemm"] as? [[String: Any]])
    #expect(rows.count == 4 && rows.allSatisfy { ($0["gflops"] as? Double ?? 0) > 0 })
  }

  @Test func runJSONHasTopFive() throws {
    let dir = CLIRun.folder("run-json")
    let eam = dir.appendingPathComponent("m.eam").path
    try #require(try CLIRun.eamc("compile", Self.model, "-o", eam, "--heads", "2", "-q").status == 0)
    let images = try FileManager.default.contentsOfDirectory(atPath: Self.eval).sorted().map { Self.eval + "/" + $0 }
    let run = try CLIRun("eamc", ["run", eam, "--json", "--image"] + images)
    try #require(run.status == 0, "\(run.stderr)")
    let outputs = try #require(try run.json()["outputs"] as? [[String: Any]])
    #expect(outputs.count == images.count && outputs.allSatisfy { ($0["top5"] as? [Any])?.count == 5 })
  }

  /// Held-out images that are calibration images, by content, are refused (compile and eval).
  @Test func heldOutImagesThatAreCalibrationImagesAreRefused() throws {
    let dir = CLIRun.folder("overlap")
    let copy = dir.appendingPathComponent("heldout")
    try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
    let first = try FileManager.default.contentsOfDirectory(atPath: Self.calib).sorted()[0]
    try FileManager.default.copyItem(atPath: Self.calib + "/" + first, toPath: copy.appendingPathComponent("renamed.jpg").path)
    let eam = dir.appendingPathComponent("m.eam").path
    let compile = try CLIRun.eamc("compile", Self.model, "--heads", "2", "-o", eam, "--calib", Self.calib, "--sparsity", "0.2",
                                  "--eval", copy.path)
    #expect(compile.status == 1 && compile.stderr.contains("are calibration images by content"), "\(compile.stderr)")
    #expect(compile.stderr.contains("renamed.jpg"))
    let allowed = try CLIRun.eamc("compile", Self.model, "--heads", "2", "-o", eam, "--calib", Self.calib, "--sparsity", "0.2",
                                  "--eval", copy.path, "--allow-overlap")
    #expect(allowed.status == 0 && allowed.stdout.contains("WARNING"), "\(allowed.stderr)")
    // eval: the artifact records each calibration image's hash, so the whole set and a single
    // renamed image among held-out ones are both recognised without the statistics.
    let eval = try CLIRun.eamc("eval", eam, "--reference", Self.model, "--images", Self.calib)
    #expect(eval.status == 1 && eval.stderr.contains("are calibration images"), "\(eval.stderr)")
    let mixed = dir.appendingPathComponent("mixed")
    try FileManager.default.createDirectory(at: mixed, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: copy.appendingPathComponent("renamed.jpg").path, toPath: mixed.appendingPathComponent("renamed.jpg").path)
    for name in try FileManager.default.contentsOfDirectory(atPath: Self.eval) {
      try FileManager.default.copyItem(atPath: Self.eval + "/" + name, toPath: mixed.appendingPathComponent(name).path)
    }
    let heldOut = try FileManager.default.contentsOfDirectory(atPath: mixed.path).count
    let partial = try CLIRun.eamc("eval", eam, "--reference", Self.model, "--images", mixed.path)
    #expect(partial.status == 1 && partial.stderr.contains("1 of \(heldOut) images are calibration images")
              && partial.stderr.contains("renamed.jpg"), "\(partial.stderr)")
    let inspect = try CLIRun.eamc("inspect", eam, "--json")
    let recorded = try #require(((try inspect.json()["calibration"] as? [String: Any])?["image_sha256"]) as? [String])
    #expect(recorded.count == (try FileManager.default.contentsOfDirectory(atPath: Self.calib).count))
    #expect(recorded == recorded.sorted() && recorded.allSatisfy { $0.utf8.count == 64 })
    // and a single one through the statistics.
    let stats = dir.appendingPathComponent("s.eamstats").path
    try #require(try CLIRun.eamc("calibrate", Self.model, "--heads", "2", "--calib", Self.calib, "-o", stats, "-q").status == 0)
    let one = try CLIRun.eamc("eval", eam, "--reference", Self.model, "--images", copy.path, "--stats", stats)
    #expect(one.status == 1 && one.stderr.contains("1 of 1 images"), "\(one.stderr)")
  }

  /// `eval --reference` recognises the checkpoint afresh and says where the artifact differs.
  @Test func evalWarnsWhenTheArtifactDiffersFromTheCheckpoint() throws {
    let dir = CLIRun.folder("eval-differs")
    let eam = dir.appendingPathComponent("m.eam").path
    try #require(try CLIRun.eamc("compile", Self.model, "--heads", "2", "--resize", "40", "-o", eam, "-q").status == 0)
    let run = try CLIRun.eamc("eval", eam, "--reference", Self.model, "--images", Self.eval, "--json")
    try #require(run.status == 0, "\(run.stderr)")
    let warnings = try #require(try run.json()["warnings"] as? [String])
    #expect(warnings.contains { $0.contains("heads: artifact 2 per block, the checkpoint 1") }, "\(warnings)")
    #expect(warnings.contains { $0.contains("preprocessing") }, "\(warnings)")
  }

  /// `--reference-outputs` from timm (examples/reference, rows put in name order here) sees
  /// what the artifact computes, whatever it believes about itself.
  @Test func evalAgainstFrameworkOutputs() throws {
    let dir = CLIRun.folder("eval-outputs")
    let eam = dir.appendingPathComponent("dinov2.eam").path
    let model = CLIRun.path("examples/models/dinov2_vits14_224.fp16.safetensors")
    try #require(try CLIRun.eamc("compile", model, "-o", eam, "-q").status == 0)
    let listed = try String(contentsOfFile: CLIRun.path("examples/reference/eval_files.txt"), encoding: .utf8)
      .split(separator: "\n").map { String($0.split(separator: "/").last!) }
    let npy = try Data(contentsOf: URL(fileURLWithPath: CLIRun.path("examples/reference/eval_outputs.npy")))
    let header = Int(npy[8]) | Int(npy[9]) << 8, start = 10 + header, width = (npy.count - start) / 4 / listed.count
    let order = listed.indices.sorted { listed[$0] < listed[$1] }
    var sorted = Data(npy.prefix(start))
    for i in order { sorted += npy[(start + i * width * 4)..<(start + (i + 1) * width * 4)] }
    let reordered = dir.appendingPathComponent("y.npy")
    try sorted.write(to: reordered)
    let run = try CLIRun.eamc("eval", eam, "--reference-outputs", reordered.path, "--images", Self.eval, "--json")
    try #require(run.status == 0, "\(run.stderr)")
    let fidelity = try #require(try run.json()["fidelity"] as? [String: Any])
    #expect((fidelity["min_cosine"] as? Double ?? 0) > 0.9999, "\(fidelity)")
  }

  @Test func diffNamesWhatDiffers() throws {
    let dir = CLIRun.folder("diff")
    let a = dir.appendingPathComponent("a.eam").path, b = dir.appendingPathComponent("b.eam").path
    try #require(try CLIRun.eamc("compile", Self.model, "--heads", "2", "-o", a, "-q").status == 0)
    // 0.8: at 0.3 the measured sensitivity puts every frozen entry in rows the output never reads.
    try #require(try CLIRun.eamc("compile", Self.model, "--heads", "2", "-o", b, "-q", "--calib", Self.calib, "--sparsity", "0.8").status == 0)
    let run = try CLIRun.eamc("diff", a, b, "--images", Self.eval, "--json")
    try #require(run.status == 0, "\(run.stderr)")
    let object = try run.json()
    let fields = try #require(object["differences"] as? [[String: Any]]).compactMap { $0["field"] as? String }
    #expect(fields.contains("flags") && fields.contains("frozen fraction per block") && fields.contains("calibration"), "\(fields)")
    let cosine = try #require((object["outputs"] as? [String: Any])?["mean_cosine"] as? Double)
    #expect(cosine > 0.5 && cosine < 1)
    let same = try CLIRun.eamc("diff", a, a)
    #expect(same.stdout.contains("identical, byte for byte"))
  }
}
