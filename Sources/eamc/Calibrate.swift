import Foundation
import ArgumentParser
import EAMCompiler
import EAMIngest

struct Calibrate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compute calibration statistics alone (optionally one shard), to merge later with compile --stats.",
    discussion: """
      Shards merge exactly: `compile --stats` of all shards writes the same artifact, byte for \
      byte, as one `compile --calib` over the same images (examples/slurm, examples/k8s).

      Example (three shards, then the compile):
        for i in 1 2 3; do
          eamc calibrate dinov2.pth --calib calib/ --shard $i/3 -o stats.$i.eamstats
        done
        eamc compile dinov2.pth -o dinov2.eam20.eam --stats stats.*.eamstats \\
          --sparsity 0.2
      \(ExitStatus.help)
      """)

  @Argument(help: "The checkpoint.")
  var checkpoint: String

  @Option(help: ArgumentHelp("A folder of calibration images (JPEG, PNG).", valueName: "folder"))
  var calib: String

  @Option(name: .shortAndLong, help: ArgumentHelp("The .eamstats file to write (its folder must exist).", valueName: "file"))
  var output: String

  @Option(help: ArgumentHelp("Only shard i of n (1-based): images k with k mod n = i − 1, by name.", valueName: "i/n"))
  var shard: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("Use at most this many images (the first by name), before sharding.", valueName: "n"))
  var calibCount: Int?

  @Option(parsing: .unconditional, help: ArgumentHelp("Images per batch.", valueName: "n"))
  var calibBatch = 8

  @Option(parsing: .unconditional, help: ArgumentHelp("Attention heads per block (default: the checkpoint's metadata, else width / 64, said so).", valueName: "n"))
  var heads: Int?

  @Option(parsing: .unconditional, help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
  var threads: Int?

  @Flag(help: "Print one JSON object on stdout (configuration and the statistics written).")
  var json = false

  @OptionGroup(title: "Output") var log: LogFlags

  @Option(help: ArgumentHelp(stringLiteral: MemoryBudget.help))
  var memoryBudget: String?

  func run() throws {
    log.apply(json: json)
    var options = CompileOptions()
    Check.atLeastOne(heads, "--heads")
    Check.atLeastOne(calibCount, "--calib-count")
    Check.atLeastOne(calibBatch, "--calib-batch")
    Check.threads(threads)
    options.overrides.heads = heads
    options.threads = threads
    options.calibration.count = calibCount
    options.calibration.batch = calibBatch
    if let shard {
      let parts = shard.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
      guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, (1...n).contains(i) else {
        usage("--shard takes i/n with 1 ≤ i ≤ n, not '\(shard)'")
      }
      options.calibration.shard = (i, n)
    }
    Check.input { () throws(CompileError) in
      try Preflight.checkpoint(checkpoint)
      try Preflight.writable(output, what: "statistics file")
    }
    if let memoryBudget {
      do throws(CompileError) { options.calibration.memoryBudget = try MemoryBudget.flag(memoryBudget) } catch { fail(error) }
    }
    options.calibration.onPlan = { plan in
      if plan.batch < CalibrationOptions().batch { print("note: \(plan.batch) images per batch, to fit the memory budget") }
      if plan.groups.count > 1 {
        print("note: calibrating in \(plan.groups.count) passes over the images, blocks \(plan.groupText), to fit the memory budget of \(MemoryBudget.text(plan.budget)) (each pass needs at most \(MemoryBudget.text(plan.peak)))")
      }
    }
    let images: [String]
    do throws(CompileError) {
      images = try ImageFolder.list(calib)
      let selected = Calibration.select(images, options: options.calibration)
      guard !selected.isEmpty else { throw CompileError("\(calib): no calibration images in shard \(shard ?? "") of \(images.count) images") }
      _ = try Preflight.images(selected, role: "calibration")
    } catch { fail(error) }
    options.calibrationImages = images
    let box = ConfigurationBox()
    let fixed = options, folder = calib, out = output, path = checkpoint
    options.announce = { (checkpoint: Checkpoint, model: ModelDescription) throws(CompileError) -> Void in
      var c = Configuration(command: "calibrate", checkpointPath: path, checkpoint: checkpoint, model: model, options: fixed)
      c.calibrationFolder = folder
      c.outputs = [out]
      if model.headCount.isGuess {
        c.remarks.append("the head count is a guess: shards and the compile must use the same --heads")
      }
      for line in c.lines { Console.say(line) }
      box.configuration = c
    }
    AtomicFile.acceptInterruption()
    let summary: CalibrationFileSummary
    do throws(CompileError) { summary = try Calibration.calibrate(checkpoint, images: images, options: options, to: output) } catch {
      fail(error)
    }
    let passes = summary.plan.groups.count == 1 ? "one pass" : "\(summary.plan.groups.count) passes"
    let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
    if json {
      Console.emit(.object([
        ("configuration", box.configuration?.json ?? .null),
        ("output", .string(output)), ("images", .int(summary.images)),
        ("set_sha256", .string(summary.setHash)), ("bytes", .int(bytes)),
        ("passes", .int(summary.plan.groups.count)), ("planned_memory_bytes", .int(summary.plan.peak)),
        ("memory_budget_bytes", .int(summary.plan.budget)),
      ]))
    } else {
      Console.out("wrote \(output): \(summary.images) images, \(Sizes.mib(bytes)), calibration set sha256 \(summary.setHash.prefix(16))… (\(passes), planned memory \(MemoryBudget.text(summary.plan.peak)) of \(MemoryBudget.text(summary.plan.budget)))")
    }
  }
}
