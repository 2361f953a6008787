import ArgumentParser
import EAMCompiler

struct Calibrate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compute calibration statistics alone (optionally one shard), to merge later with compile --stats.")

  @Argument(help: "The checkpoint.")
  var checkpoint: String

  @Option(help: "A folder of calibration images.")
  var calib: String

  @Option(name: .shortAndLong, help: "The .eamstats file to write.")
  var output: String

  @Option(help: "Only shard i of n, as i/n (1-based).")
  var shard: String?

  @Option(help: "Use at most this many images.")
  var calibCount: Int?

  @Option(help: "Attention heads per block (default: width / 64).")
  var heads: Int?

  @Option(help: "Threads (default: all cores).")
  var threads: Int?

  @Option(help: ArgumentHelp(stringLiteral: MemoryBudget.help))
  var memoryBudget: String?

  func run() throws {
    AtomicFile.acceptInterruption()
    var options = CompileOptions()
    options.overrides.heads = heads
    options.threads = threads
    options.calibration.count = calibCount
    if let shard {
      let parts = shard.split(separator: "/").compactMap { Int($0) }
      guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else { fail("--shard takes i/n with 1 ≤ i ≤ n, not '\(shard)'") }
      options.calibration.shard = (parts[0], parts[1])
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
    do throws(CompileError) { images = try ImageFolder.list(calib) } catch { fail(error) }
    let summary: CalibrationFileSummary
    do throws(CompileError) { summary = try Calibration.calibrate(checkpoint, images: images, options: options, to: output) } catch {
      fail(error)
    }
    let passes = summary.plan.groups.count == 1 ? "one pass" : "\(summary.plan.groups.count) passes"
    print("wrote \(output): \(summary.images) images, calibration set sha256 \(summary.setHash.prefix(16))… (\(passes), planned memory \(MemoryBudget.text(summary.plan.peak)) of \(MemoryBudget.text(summary.plan.budget)))")
  }
}
