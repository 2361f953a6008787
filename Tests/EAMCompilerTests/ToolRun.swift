import Foundation

/// One run of a command-line tool from a test: how it ended and what it wrote on stderr.
struct ToolRun {
  var exited: Bool
  var status: Int32
  var stderr: String

  /// Runs `tool` with `arguments` to the end (stdout discarded).
  init(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let err = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = err
    try process.run()
    stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    exited = process.terminationReason == .exit
    status = process.terminationStatus
  }

  /// Exited with a non-zero status and wrote exactly one line on stderr.
  var failedWithOneLine: Bool {
    exited && status != 0 && stderr.split(separator: "\n", omittingEmptySubsequences: true).count == 1
  }
}
