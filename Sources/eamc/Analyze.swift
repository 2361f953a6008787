import ArgumentParser
import EAMCompiler

struct Analyze: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure what the entropy-guided passes would find: per block and head entropies, removal costs, rankings. Writes nothing.",
    discussion: """
      Per block: the entropy of its attention and MLP outputs and what removing its attention \
      alone costs (lambda and skip modes, output cosine to the float model); per head: the \
      attention-map entropy and how much of its map the other heads explain. Removal costs are \
      measured on --eval images when given (held-out), else on the calibration images.

      Examples:
        eamc analyze dinov2.pth --calib calib/
        eamc analyze dinov2.pth --calib calib/ --eval heldout/ --json > analysis.json
      \(ExitStatus.help)
      """)

  @Argument(help: "The checkpoint to analyze.")
  var checkpoint: String

  @Option(help: ArgumentHelp("A folder of calibration images (JPEG, PNG).", valueName: "folder"))
  var calib: String

  @Option(parsing: .unconditional, help: ArgumentHelp("Use at most this many calibration images (the first by name).", valueName: "n"))
  var calibCount: Int?

  @Option(help: ArgumentHelp("Held-out images for the removal costs (none of them calibration images).", valueName: "folder"))
  var eval: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("Attention heads per block (default: the checkpoint's metadata, else a guess of width / 64, said so).", valueName: "n"))
  var heads: Int?

  @Option(parsing: .unconditional, help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
  var threads: Int?

  @Flag(help: "Print one JSON object on stdout.")
  var json = false

  @OptionGroup(title: "Output") var log: LogFlags

  func run() throws {
    log.apply(json: json)
    Check.atLeastOne(calibCount, "--calib-count")
    Check.atLeastOne(heads, "--heads")
    Check.threads(threads)
    var overrides = ModelOverrides()
    overrides.heads = heads
    var images: [String] = [], held: [String] = []
    Check.input { () throws(CompileError) in
      try Preflight.checkpoint(checkpoint)
      images = try ImageFolder.list(calib)
      if let calibCount { images = Array(images.prefix(calibCount)) }
      let hashes = try Preflight.images(images, role: "calibration")
      if let eval {
        held = try ImageFolder.list(eval)
        let heldHashes = try Preflight.images(held, role: "held-out")
        let shared = Preflight.overlap(held, hashes: heldHashes, calibration: images, calibrationHashes: hashes)
        if let first = shared.first {
          throw CompileError("\(eval): \(shared.count) of \(held.count) held-out images are calibration images by content (\(first.0) = \(first.1)); use other images")
        }
      }
    }
    let analysis: Analysis
    do throws(CompileError) {
      let (_, model) = try Compiler.load(checkpoint, overrides: overrides)
      Console.say("eamc analyze: \(checkpoint): \(model.architecture.family.name), \(model.blocks.count) blocks, heads \(model.headCount.describe(width: model.architecture.embedDim)); \(images.count) calibration images" + (held.isEmpty ? "" : ", \(held.count) held-out"))
      analysis = try Analysis.run(model, source: checkpoint, images: images, evalImages: held, threads: threads)
    } catch { fail(error) }
    if json {
      Console.emit(analysis.json)
    } else {
      for line in analysis.lines { Console.out(line) }
    }
  }
}
