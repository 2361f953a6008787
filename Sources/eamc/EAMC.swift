import ArgumentParser
import EAMCompiler
import Foundation

@main
struct EAMC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eamc",
    abstract: "Compile Vision Transformer checkpoints into compact .eam artifacts, and run them.",
    discussion: """
      A first compile, then the EAM one (20% of attention-map entries frozen in 2 bits), its \
      report, and a run:

        eamc compile model.pth -o model.eam
        eamc compile model.pth -o model.eam20.eam --calib calib/ --sparsity 0.2 \\
          --eval heldout/ --report model.eam20.report.html
        eamc eval model.eam20.eam --reference model.pth --images heldout/
        eamc run model.eam20.eam --image cat.jpg

      'eamc help COMMAND' shows each command's flags, an example and its exit codes.
      \(ExitStatus.help)
      """,
    version: Version.text,
    subcommands: [Compile.self, Calibrate.self, Analyze.self, Inspect.self, Run.self, Bench.self, Eval.self, Diff.self]
  )

  /// ArgumentParser's own usage errors exit with 64 (EX_USAGE); eamc's documented code is 2.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      let code = exitCode(for: error)
      if code == .validationFailure {
        var stderr = StandardError()
        print(fullMessage(for: error), to: &stderr)
        Foundation.exit(ExitStatus.usage)
      }
      exit(withError: error)
    }
  }
}

/// eamc's exit statuses, the same for every command.
enum ExitStatus {
  static let ok: Int32 = 0
  /// A file or input is missing or wrong (or the command found a problem, e.g. a failed checksum).
  static let input: Int32 = 1
  /// The command line itself is wrong: an unknown flag, a missing or out-of-range value.
  static let usage: Int32 = 2

  static let help = """

    Exit status: 0 ok; 1 a file or input is missing or wrong (one line on stderr naming it); \
    2 the command line is wrong (unknown flag, missing or out-of-range value).
    """
}

/// `eamc` and the artifacts it writes share one version.
enum Version {
  static let text = EAMVersion.text
}

/// Prints `eamc: error: message` on stderr and exits with status 1 (a file or input is wrong).
func fail(_ message: CustomStringConvertible) -> Never {
  var stderr = StandardError()
  print("eamc: error: \(message)", to: &stderr)
  Foundation.exit(ExitStatus.input)
}

/// Prints `eamc: usage error: message` on stderr and exits with status 2 (the command line is wrong).
func usage(_ message: CustomStringConvertible) -> Never {
  var stderr = StandardError()
  print("eamc: usage error: \(message)", to: &stderr)
  Foundation.exit(ExitStatus.usage)
}

struct StandardError: TextOutputStream {
  mutating func write(_ string: String) { FileHandle.standardError.write(Data(string.utf8)) }
}
