import ArgumentParser
import EAMCompiler
import Foundation

/// `-q` and `-v`, shared by every command.
struct LogFlags: ParsableArguments {
  @Flag(name: .shortAndLong, help: "Quiet: no configuration, progress or notes; results and errors only.")
  var quiet = false

  @Flag(name: .shortAndLong, help: "Verbose: also timings of each step and the checkpoint's ignored entries.")
  var verbose = false

  @Flag(help: "Progress as plain lines (one per step and every 10%), as in a job log, even on a terminal.")
  var plainProgress = false

  var level: Verbosity { quiet ? .quiet : verbose ? .verbose : .normal }

  /// Sets where progress and notes go; `json`: stdout holds one JSON object only.
  func apply(json: Bool = false) {
    if quiet && verbose { usage("-q and -v contradict each other") }
    Progress.verbosity = level
    Progress.plain = plainProgress
    Console.json = json
  }
}

/// What a command says besides its result: on stdout as text, or on stderr when stdout is JSON.
enum Console {
  nonisolated(unsafe) static var json = false

  /// A configuration or summary line (not shown with -q).
  static func say(_ line: String) {
    guard Progress.verbosity >= .normal else { return }
    if json { Progress.line(line) } else { out(line) }
  }

  /// `-v` only.
  static func detail(_ line: String) {
    guard Progress.verbosity >= .verbose else { return }
    if json { Progress.line(line) } else { out(line) }
  }

  /// The result of a `--json` command: one object on one line of stdout.
  static func emit(_ value: JSON) {
    out(value.text)
  }

  /// A line on stdout, written at once (not held in a buffer: in a job log, where stdout is a
  /// file, the configuration stays before the progress lines on stderr).
  static func out(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    bytes.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = write(1, raw.baseAddress! + done, raw.count - done)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
      }
    }
  }
}

extension WeightPrecision: ExpressibleByArgument {}
extension WeightQuantization.Int4Rounding: ExpressibleByArgument {}
extension WeightQuantization.ActivationQuantization: ExpressibleByArgument {}
extension SelectionCriterion: ExpressibleByArgument {}
extension BudgetAllocation: ExpressibleByArgument {}
extension FrozenValue: ExpressibleByArgument {}
extension FrozenGranularity: ExpressibleByArgument {}

/// Checks shared by the commands (each a usage error, status 2).
enum Check {
  static func threads(_ n: Int?) {
    if let problem = Preflight.threads(n) { usage(problem) }
  }

  static func atLeastOne(_ n: Int?, _ flag: String) {
    if let n, n < 1 { usage("\(flag) must be at least 1, not \(n)") }
  }

  /// Runs a preflight check; its failure is an input error (status 1).
  static func input(_ body: () throws(CompileError) -> Void) {
    do throws(CompileError) { try body() } catch { fail(error) }
  }
}
