import Foundation
import Testing

/// Progress when stderr is not a terminal (a Slurm or Kubernetes job log): plain lines, one when
/// a step starts, one per tenth done and one when it ends, with the rate to one decimal.
@Suite struct ProgressTests {
  @Test func jobLogGetsPlainProgressLines() throws {
    let dir = CLIRun.folder("progress")
    let run = try CLIRun.eamc("compile", CLITests.model, "--heads", "2", "-o", dir.appendingPathComponent("m.eam").path,
                              "--calib", CLITests.calib, "--calib-batch", "1", "--sparsity", "0.2", "--eval", CLITests.eval)
    try #require(run.status == 0, "\(run.stderr)")
    #expect(!run.stderr.contains("\r") && !run.stderr.contains("\u{1B}"), "terminal control characters in a log")
    let lines = run.stderrLines.map(String.init)
    let calibrating = lines.filter { $0.hasPrefix("calibrating: ") }
    #expect(calibrating.first == "calibrating: 12 images")
    // 12 images one at a time: a line at each tenth crossed, at most ten, and a closing line.
    let steps = calibrating.filter { $0.contains("/12 images (") }
    #expect(steps.count >= 5 && steps.count <= 10, "\(calibrating)")
    #expect(steps.allSatisfy { $0.range(of: #"\d+\.\d images/s, ETA "#, options: .regularExpression) != nil }, "\(steps)")
    #expect(calibrating.last?.range(of: #"^calibrating: 12 images in [0-9.]+ s \(\d+\.\d images/s\)$"#, options: .regularExpression) != nil,
            "\(calibrating)")
    for phase in ["evaluating", "evaluating control_std", "evaluating control_random"] {
      #expect(lines.contains("\(phase): 4 images") && lines.contains { $0.hasPrefix("\(phase): 4 images in ") }, "\(phase): \(lines)")
    }
    // -q: nothing on stderr.
    let quiet = try CLIRun.eamc("compile", CLITests.model, "--heads", "2", "-o", dir.appendingPathComponent("q.eam").path,
                                "--calib", CLITests.calib, "--sparsity", "0.2", "-q")
    #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
  }
}
