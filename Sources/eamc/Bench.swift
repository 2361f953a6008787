import ArgumentParser
import Foundation
import EAMCompiler
import EAMKernels
import EAMRuntime

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure an artifact's latency, throughput and memory on this machine.")

  @Argument(help: "The .eam artifact (not needed with --gemm).")
  var artifact: String?

  @Option(help: ArgumentHelp("A second artifact to time alongside, run by run in alternation, e.g. the float artifact of an EAM one: shows latency and attention time with and without frozen maps.", valueName: "artifact"))
  var compare: String?

  @Flag(help: "Measure the packed GEMM alone at DeiT-S shapes on one thread (GFLOP/s).")
  var gemm = false

  @Option(help: "Images per run.")
  var batch = 1

  @Option(help: "Threads (default: all cores).")
  var threads: Int?

  @Option(help: "Timed runs after the warm-up.")
  var iters = 20

  @Flag(help: "Print one JSON object.")
  var json = false

  @Flag(help: "Skip section checksums at load (to see what verifying costs).")
  var noVerify = false

  @Option(help: "Attention kernel: auto (fused from \(AttentionKernel.fusedFromTokens) tokens), fused or unfused.")
  var attention = "auto"

  @Flag(help: "Widen f16 weights to f32 at load (twice the memory) instead of converting them in the GEMM.")
  var widenF16 = false

  func run() throws {
    guard batch >= 1, iters >= 1 else { fail("--batch and --iters must be at least 1") }
    if gemm {
      print("packed SGEMM, one thread, \(Kernels.cpuName), kernels \(KernelVariant.active.name):")
      for (m, n, k) in [(197, 1152, 384), (197, 384, 384), (197, 1536, 384), (197, 384, 1536)] {
        let g = GEMMBenchmark.gflops(m: m, n: n, k: k, iterations: max(iters, 20))
        print("  M=\(m) N=\(n) K=\(k): \(String(format: "%.1f", g)) GFLOP/s")
      }
      return
    }
    guard let artifact else { fail("give an artifact, or --gemm") }
    if let threads, threads < 1 { fail("--threads must be at least 1") }
    var options = LoadOptions()
    if let threads { options.threads = threads }
    options.verify = !noVerify
    options.widenF16 = widenF16
    switch attention {
    case "auto": options.attention = .automatic
    case "fused": options.attention = .fused
    case "unfused": options.attention = .unfused
    default: fail("--attention takes auto, fused or unfused, not '\(attention)'")
    }
    PeakMemory.reset()
    let paths = [artifact] + (compare.map { [$0] } ?? [])
    var models: [Model] = [], loads: [Double] = []
    for path in paths {
      let t0 = Clock.now()
      do throws(RuntimeError) { models.append(try Model(path: path, options: options)) } catch { fail(error) }
      loads.append(Clock.now() - t0)
    }
    let r = Benchmark.measure(models, batch: batch, iterations: iters, loadSeconds: loads)
    if let compare {
      print(json ? BenchReport.compareJSON(r[0], artifact: artifact, r[1], compare: compare).text
                 : BenchReport.compareText(r[0], artifact: artifact, r[1], compare: compare))
    } else {
      print(json ? BenchReport.json(r[0], artifact: artifact).text : BenchReport.text(r[0], artifact: artifact))
    }
  }
}
