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
    let images: [String]
    do throws(CompileError) { images = try ImageFolder.list(calib) } catch { fail(error) }
    let stats: AttentionStatistics
    do throws(CompileError) { stats = try Compiler.calibrate(checkpoint, images: images, options: options, to: output) } catch {
      fail(error)
    }
    print("wrote \(output): \(stats.imageCount) images, calibration set sha256 \(stats.calibrationSetSHA256.prefix(16))…")
  }
}
