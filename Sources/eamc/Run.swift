import ArgumentParser
import EAMCompiler
import EAMIngest
import EAMRuntime

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run an artifact on a preprocessed .npy batch or on images.")

  @Argument(help: "The .eam artifact.")
  var artifact: String

  @Option(help: "Input: float32 NCHW .npy, already preprocessed.")
  var input: String?

  @Option(help: "Where to write the output as float32 .npy.")
  var output: String?

  @Option(parsing: .upToNextOption, help: "Images (JPEG, PNG) to decode and preprocess as the artifact says.")
  var image: [String] = []

  @Option(help: "Threads (default: all cores).")
  var threads: Int?

  @Flag(help: "Skip section checksums at load.")
  var noVerify = false

  func run() throws {
    guard (input == nil) != image.isEmpty else { fail("give either --input x.npy or --image FILE...") }
    if let threads, threads < 1 { fail("--threads must be at least 1") }
    if let output {
      let inputs = [OutputSet.File("artifact", artifact)] + (input.map { [.init("input", $0)] } ?? []) + image.map { .init("image", $0) }
      do throws(CompileError) { try RunFiles.check(outputs: [.init("output", output)], inputs: inputs) } catch { fail(error) }
    }
    var options = LoadOptions()
    if let threads { options.threads = threads }
    options.verify = !noVerify
    let model: Model
    do throws(RuntimeError) { model = try Model(path: artifact, options: options) } catch { fail(error) }

    let batch: Int
    let values: [Float]
    if let input {
      let tensor: Tensor
      do throws(IngestError) { tensor = try NPY.read(path: input) } catch { fail(error) }
      let shape = model.inputShape
      guard tensor.shape.count == 4, Array(tensor.shape[1...]) == shape else {
        fail("\(input): shape \(tensor.shape), the model takes [N, \(shape.map(String.init).joined(separator: ", "))]")
      }
      batch = tensor.shape[0]
      values = tensor.values
    } else {
      do throws(CompileError) {
        values = try ImageInput.batch(paths: image, preprocessing: model.manifest.preprocessing)
      } catch { fail(error) }
      batch = image.count
    }
    guard batch > 0 else { fail("the input holds no images") }
    let out: [Float]
    do throws(RuntimeError) { out = try model.run(values, batch: batch) } catch { fail(error) }
    let result = Tensor(shape: [batch, model.outputWidth], values: out)
    if let output {
      do throws(AtomicFile.WriteError) { try AtomicFile.write(NPY.encode(result), to: output) } catch { fail(error) }
      print("wrote \(output): [\(batch), \(model.outputWidth)] float32")
    }
    if !image.isEmpty || output == nil {
      print(OutputSummary.describe(result, names: image.isEmpty ? nil : image))
    }
  }
}
