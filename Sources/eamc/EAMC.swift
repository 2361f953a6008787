import ArgumentParser

@main
struct EAMC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eamc",
    abstract: "Compile Vision Transformer checkpoints into compact .eam artifacts, and run them.",
    version: "0.1.0",
    subcommands: [Compile.self, Calibrate.self, Inspect.self, Run.self, Bench.self, Eval.self]
  )
}

/// Prints `eamc: error: message` on stderr and exits with status 1.
func fail(_ message: CustomStringConvertible) -> Never {
  var stderr = StandardError()
  print("eamc: error: \(message)", to: &stderr)
  Foundation.exit(1)
}

import Foundation

struct StandardError: TextOutputStream {
  mutating func write(_ string: String) { FileHandle.standardError.write(Data(string.utf8)) }
}
