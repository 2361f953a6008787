import Foundation
import Testing

/// Runs eamc or eam-run from a test with stdout and stderr to files (so stderr is not a
/// terminal, as in a job log) and returns how it ended and what it wrote.
struct CLIRun {
  var status: Int32
  var stdout: String
  var stderr: String
  var seconds: Double

  static let root = AtomicOutput.root

  /// A product built beside the test bundle, else in `.build/debug`.
  static func tool(_ name: String) throws -> String {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    let path = FileManager.default.isExecutableFile(atPath: beside) ? beside : root.appendingPathComponent(".build/debug/\(name)").path
    try #require(FileManager.default.isExecutableFile(atPath: path), "build \(name) first (swift build --build-tests)")
    return path
  }

  init(_ name: String, _ arguments: [String]) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-cli-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try Self.tool(name))
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    let start = Date()
    try process.run()
    process.waitUntilExit()
    seconds = Date().timeIntervalSince(start)
    status = process.terminationStatus
    stdout = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
    stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
  }

  static func eamc(_ arguments: String...) throws -> CLIRun { try CLIRun("eamc", arguments) }

  var stderrLines: [Substring] { stderr.split(separator: "\n") }

  func json() throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    return try #require(object as? [String: Any], "stdout is not one JSON object: \(stdout.prefix(300))")
  }

  static func folder(_ tag: String) -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-\(tag)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}
