import ArgumentParser
import EAMCompiler
import EAMFormat

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show an artifact's header, architecture, blocks and sections.",
    discussion: """
      Example:
        eamc inspect model.eam --verify
        eamc inspect model.eam --json | python3 -m json.tool
      Exit status 1 also when --verify finds a section whose checksum fails.
      \(ExitStatus.help)
      """)

  @Argument(help: "The .eam artifact.")
  var artifact: String

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  @Flag(help: "Check every section's checksum.")
  var verify = false

  @OptionGroup(title: "Output") var log: LogFlags

  func run() throws {
    log.apply(json: json)
    let file: Artifact
    do throws(FormatError) { file = try Artifact(path: artifact) } catch { fail(error) }
    var inspection = Inspection(artifact: file)
    if verify { inspection.verify() }
    Console.out(json ? inspection.json.text : inspection.text)
    if let failure = inspection.firstFailure { fail(failure) }
  }
}
