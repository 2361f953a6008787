// eam-run: the runtime-only product. Links EAMRuntime and nothing of the compiler; no Foundation.
import EAMRuntimeCore
import EAMRunSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("eam-run: needs Glibc or Darwin")
#endif

@main
struct EAMRun {
  static let usage = """
    usage: eam-run MODEL.eam INPUT.npy OUTPUT.npy [--threads N] [--no-verify] [--memory-budget SIZE]

    Runs a compiled .eam artifact on a preprocessed NCHW batch and writes its outputs.
    INPUT.npy: float32 or float64, either byte order, C or Fortran order; shape [N, C, H, W]
    as the artifact takes it (eamc inspect shows it). OUTPUT.npy: float32, [N, outputs].

    Example:
      eam-run model.eam x.npy y.npy --threads 2

    Options:
      --threads N   threads (default: all cores)
      --no-verify   skip section checksums at load
      --memory-budget SIZE
                    the most memory the model may allocate, e.g. 2G or 512M (K, M, G, T:
                    powers of 1024; default: half the physical memory, at most 8G)
      -h, --help    this text

    Exit status: 0 ok; 1 a file or input is missing or wrong; 2 the command line is wrong.

    """

  static func main() {
    var args = Array(CommandLine.arguments.dropFirst())
    if args.contains("--help") || args.contains("-h") {
      print(usage, terminator: "")
      exit(0)
    }
    var options = LoadOptions()
    if let i = args.firstIndex(of: "--threads") {
      guard i + 1 < args.count else { usageError("--threads needs a value") }
      guard let n = Int(args[i + 1]), (1...1024).contains(n) else { usageError("--threads must be 1 to 1024, not '\(args[i + 1])'") }
      options.threads = n
      args.removeSubrange(i...(i + 1))
    }
    if let i = args.firstIndex(of: "--memory-budget") {
      guard i + 1 < args.count else { usageError("--memory-budget needs a value") }
      guard let n = LoadOptions.parseMemorySize(args[i + 1]) else {
        usageError("--memory-budget takes a size such as 2G or 512M (K, M, G, T: powers of 1024), not '\(args[i + 1])'")
      }
      options.memoryBudget = n
      args.removeSubrange(i...(i + 1))
    }
    if let i = args.firstIndex(of: "--no-verify") {
      options.verify = false
      args.remove(at: i)
    }
    if let flag = args.first(where: { $0.hasPrefix("-") && $0.count > 1 }) { usageError("unknown option '\(flag)'") }
    guard args.count == 3 else { usageError("give MODEL.eam INPUT.npy OUTPUT.npy (eam-run --help)") }
    let model: Model
    do throws(RuntimeError) { model = try Model(path: args[0], options: options) } catch { fail(error.description) }
    let input: (shape: [Int], values: [Float])
    do throws(NPYFile.Failure) { input = try NPYFile.read(args[1]) } catch { fail(error.message) }
    guard input.shape.count == 4, Array(input.shape[1...]) == model.inputShape, input.shape[0] > 0 else {
      fail("\(args[1]): shape \(input.shape), the model takes [N, \(model.inputShape.map { String($0) }.joined(separator: ", "))]")
    }
    let batch = input.shape[0]
    let output: [Float]
    do throws(RuntimeError) { output = try model.run(input.values, batch: batch) } catch { fail(error.description) }
    do throws(NPYFile.Failure) {
      try NPYFile.write(args[2], shape: [batch, model.outputWidth], values: output)
    } catch { fail(error.message) }
  }

  static func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = Array("eam-run: error: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
  }

  static func usageError(_ message: String) -> Never {
    fail(message + " (eam-run --help)", status: 2)
  }
}
