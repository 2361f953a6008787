import ArgumentParser
import EAMCompiler
import EAMRuntime

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure an artifact's latency, throughput and memory on this machine.")

  @Argument(help: "The .eam artifact.")
  var artifact: String

  @Option(help: "Images per run.")
  var batch = 1

  @Option(help: "Threads (default: all cores).")
  var threads: Int?

  @Option(help: "Timed runs after the warm-up.")
  var iters = 20

  @Flag(help: "Print one JSON object.")
  var json = false

  func run() throws {
    guard batch >= 1, iters >= 1 else { fail("--batch and --iters must be at least 1") }
    if let threads, threads < 1 { fail("--threads must be at least 1") }
    var options = LoadOptions()
    if let threads { options.threads = threads }
    Clock.resetPeakRSS()
    let t0 = Clock.now()
    let model: Model
    do throws(RuntimeError) { model = try Model(path: artifact, options: options) } catch { fail(error) }
    let load = Clock.now() - t0
    let r = Benchmark.measure(model, batch: batch, iterations: iters, loadSeconds: load)
    print(json ? BenchReport.json(r, artifact: artifact).text : BenchReport.text(r, artifact: artifact))
  }
}
