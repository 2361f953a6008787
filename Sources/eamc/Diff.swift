import ArgumentParser
import EAMCompiler
import EAMFormat

struct Diff: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare two artifacts: architecture, flags and passes, sizes and sections, and outputs on images.",
    discussion: """
      Examples:
        eamc diff model.eam model.eam20.eam
        eamc diff model.eam model.eam20.eam --images heldout/ --json
      Exit status 0 whether or not they differ (the output says); 1 when a file cannot be read.
      \(ExitStatus.help)
      """)

  @Argument(help: "The first artifact (A).")
  var a: String

  @Argument(help: "The second artifact (B).")
  var b: String

  @Option(help: ArgumentHelp("A folder of images (JPEG, PNG): run both and compare B's outputs to A's.", valueName: "folder"))
  var images: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
  var threads: Int?

  @Flag(help: "Print one JSON object.")
  var json = false

  @OptionGroup(title: "Output") var log: LogFlags

  func run() throws {
    log.apply(json: json)
    Check.threads(threads)
    let x: Artifact, y: Artifact
    do throws(FormatError) {
      x = try Artifact(path: a)
      y = try Artifact(path: b)
    } catch { fail(error) }
    var diff = ArtifactDiff(x, y)
    if let images {
      do throws(CompileError) {
        let files = try ImageFolder.list(images)
        _ = try Preflight.images(files, role: "")
        try diff.compareOutputs(images: files, threads: threads)
      } catch { fail(error) }
    }
    Console.out(json ? diff.json.text : diff.text)
  }
}
