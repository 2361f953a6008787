import ArgumentParser
import Foundation
import EAMCompiler
import EAMKernels
import EAMRuntime

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure an artifact's latency, throughput and memory on this machine.",
    discussion: """
      Examples:
        eamc bench model.eam --batch 8 --threads 2 --iters 20
        eamc bench model.eam20.eam --compare model.eam --iters 40  # alternating
        eamc bench --gemm --json
      \(ExitStatus.help)
      """)

  @Argument(help: "The .eam artifact (not needed with --gemm).")
  var artifact: String?

  @Option(help: ArgumentHelp("A second artifact to time alongside, run by run in alternation, e.g. the float artifact of an EAM one: shows latency and attention time with and without frozen maps.", valueName: "artifact"))
  var compare: String?

  @Flag(help: "Measure the packed GEMM alone at DeiT-S shapes on one thread (GFLOP/s).")
  var gemm = false

  @Option(parsing: .unconditional, help: ArgumentHelp("Images per run.", valueName: "n"))
  var batch = 1

  @Option(parsing: .unconditional, help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
  var threads: Int?

  @Option(parsing: .unconditional, help: ArgumentHelp("Timed runs after the warm-up.", valueName: "n"))
  var iters = 20

  @Flag(help: "Print one JSON object.")
  var json = false

  @Flag(help: "Skip section checksums at load (to see what verifying costs).")
  var noVerify = false

  @Option(help: "Attention kernel: auto (fused from \(AttentionKernel.fusedFromTokens) tokens), fused or unfused.")
  var attention: AttentionChoice = .auto

  @Flag(help: "Widen f16 weights to f32 at load (twice the memory) instead of converting them in the GEMM.")
  var widenF16 = false

  @OptionGroup(title: "Output") var log: LogFlags

  func run() throws {
    log.apply(json: json)
    Check.atLeastOne(batch, "--batch")
    Check.atLeastOne(iters, "--iters")
    Check.threads(threads)
    if gemm {
      var rows: [JSON] = []
      if !json { Console.out("packed SGEMM, one thread, \(Kernels.cpuName), kernels \(KernelVariant.active.name):") }
      for (m, n, k) in [(197, 1152, 384), (197, 384, 384), (197, 1536, 384), (197, 384, 1536)] {
        let g = GEMMBenchmark.gflops(m: m, n: n, k: k, iterations: max(iters, 20))
        if json {
          rows.append(.object([("m", .int(m)), ("n", .int(n)), ("k", .int(k)), ("gflops", .number(g))]))
        } else {
          Console.out("  M=\(m) N=\(n) K=\(k): \(String(format: "%.1f", g)) GFLOP/s")
        }
      }
      if json {
        Console.emit(.object([("cpu", .string(Kernels.cpuName)), ("kernels", .string(KernelVariant.active.name)),
                              ("threads", .int(1)), ("gemm", .array(rows))]))
      }
      return
    }
    guard let artifact else { usage("give an artifact, or --gemm") }
    var options = LoadOptions()
    if let threads { options.threads = threads }
    options.verify = !noVerify
    options.widenF16 = widenF16
    options.attention = attention.kernel
    PeakMemory.reset()
    let paths = [artifact] + (compare.map { [$0] } ?? [])
    var models: [Model] = [], loads: [Double] = []
    for path in paths {
      let t0 = Clock.now()
      do throws(RuntimeError) {
        let model = try Model(path: path, options: options)
        _ = try model.plannedMemory(batch: batch)  // the batch's arena within the memory budget
        models.append(model)
      } catch { fail(error) }
      loads.append(Clock.now() - t0)
    }
    Console.say("bench: \(paths.joined(separator: " vs ")), batch \(batch), threads \(options.threads), \(iters) timed runs, kernels \(KernelVariant.active.name)")
    let r = Benchmark.measure(models, batch: batch, iterations: iters, loadSeconds: loads)
    if let compare {
      Console.out(json ? BenchReport.compareJSON(r[0], artifact: artifact, r[1], compare: compare).text
                 : BenchReport.compareText(r[0], artifact: artifact, r[1], compare: compare))
    } else {
      Console.out(json ? BenchReport.json(r[0], artifact: artifact).text : BenchReport.text(r[0], artifact: artifact))
    }
  }
}

/// `--attention`: which attention kernel the runtime uses (`LoadOptions.attention`).
enum AttentionChoice: String, CaseIterable, ExpressibleByArgument {
  case auto, fused, unfused

  var kernel: AttentionKernel {
    switch self {
    case .auto: .automatic
    case .fused: .fused
    case .unfused: .unfused
    }
  }
}
