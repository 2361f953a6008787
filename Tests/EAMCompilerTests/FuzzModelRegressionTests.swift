import Foundation
import Testing

/// Inputs on which the model harnesses (fuzz-eam-memory, fuzz-eam-manifest-structured;
/// docs/FUZZING.md) crashed, trapped or hung: each is replayed through its harness in a child
/// process (a trap cannot be caught in this one), which must open, load and, if small, run it or
/// refuse it, and exit 0. They are the `regression-*` inputs of the two corpora.
///
/// `knownIssues` are findings in EAMFormat/EAMRuntimeCore not fixed yet (the manifest validation
/// is being added there): their replays are expected to fail. Once fixed, `withKnownIssue`
/// reports that the issue no longer occurs: remove the entry and the test is an ordinary one.
@Suite struct FuzzModelRegressions {
  static let targets = ["eam-memory", "eam-manifest-structured"]

  /// Corpus file (target/name) → what goes wrong.
  static let knownIssues: [String: String] = [:]

  static let inputs: [String] = targets.flatMap { target in
    ((try? FileManager.default.contentsOfDirectory(atPath: CLIRun.path("Fuzz/corpus/" + target))) ?? [])
      .filter { $0.hasPrefix("regression-") }.sorted().map { target + "/" + $0 }
  }

  @Test(arguments: inputs)
  func replaysCleanly(_ input: String) throws {
    let target = String(input.prefix { $0 != "/" })
    let replay = { () throws -> Void in
      let run = try CLIRun("fuzz-" + target, [CLIRun.path("Fuzz/corpus/" + input)])
      #expect(run.status == 0 && run.stdout.contains("replayed 1 inputs"), "\(input): exit \(run.status): \(run.stderr.suffix(400))")
      #expect(run.seconds < 10, "\(input): \(run.seconds) s")
    }
    if let issue = Self.knownIssues[input] {
      try withKnownIssue(Comment(rawValue: issue)) { try replay() }
    } else {
      try replay()
    }
  }
}
