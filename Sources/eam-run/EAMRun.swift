// eam-run: the runtime-only product. Links EAMRuntime and nothing of the compiler; no Foundation.
import EAMRuntimeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("eam-run: needs Glibc or Darwin")
#endif

@main
struct EAMRun {
  static func main() {
    var args = Array(CommandLine.arguments.dropFirst())
    var options = LoadOptions()
    if let i = args.firstIndex(of: "--threads"), i + 1 < args.count, let n = Int(args[i + 1]), n >= 1 {
      options.threads = n
      args.removeSubrange(i...(i + 1))
    }
    if let i = args.firstIndex(of: "--no-verify") {
      options.verify = false
      args.remove(at: i)
    }
    guard args.count == 3 else {
      fail("usage: eam-run MODEL.eam INPUT.npy OUTPUT.npy [--threads N] [--no-verify]")
    }
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

  static func fail(_ message: String) -> Never {
    let line = Array("eam-run: error: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
  }
}
