import ArgumentParser
import EAMCompiler
import EAMIngest
import EAMRuntime

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run an artifact on a preprocessed .npy batch or on images.",
    discussion: """
      Examples:
        eamc run model.eam --image cat.jpg dog.png     # top-5 classes or features
        eamc run model.eam --input x.npy --output y.npy  # NCHW, preprocessed
        eamc run model.eam --image cat.jpg --json      # outputs as JSON
      .npy input may be float32 or float64, C or Fortran order.
      \(ExitStatus.help)
      """)

  @Argument(help: "The .eam artifact.")
  var artifact: String

  @Option(help: ArgumentHelp("Input: an NCHW .npy batch, already preprocessed.", valueName: "x.npy"))
  var input: String?

  @Option(help: ArgumentHelp("Where to write the output as float32 .npy.", valueName: "y.npy"))
  var output: String?

  @Option(parsing: .upToNextOption, help: ArgumentHelp("Images (JPEG, PNG) to decode and preprocess as the artifact says.", valueName: "file"))
  var image: [String] = []

  @Option(parsing: .unconditional, help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
  var threads: Int?

  @Flag(help: "Skip section checksums at load.")
  var noVerify = false

  @Option(help: ArgumentHelp("The most memory the model may allocate (activations, attention scratch, frozen maps, copied weights), e.g. 2G or 512M (K, M, G, T: powers of 1024; default: half the physical memory, at most 8G). A model that needs more is refused at load.", valueName: "size"))
  var memoryBudget: String?

  @Flag(help: "Print one JSON object on stdout: the output shape and, per image, top-5 classes or feature statistics.")
  var json = false

  @OptionGroup(title: "Output") var log: LogFlags

  func run() throws {
    log.apply(json: json)
    guard (input == nil) != image.isEmpty else { usage("give either --input x.npy or --image FILE...") }
    Check.threads(threads)
    if let output {
      Check.input { () throws(CompileError) in try Preflight.writable(output, what: "output") }
      let inputs = [OutputSet.File("artifact", artifact)] + (input.map { [.init("input", $0)] } ?? []) + image.map { .init("image", $0) }
      do throws(CompileError) { try RunFiles.check(outputs: [.init("output", output)], inputs: inputs) } catch { fail(error) }
    }
    var options = LoadOptions()
    if let threads { options.threads = threads }
    options.verify = !noVerify
    if let memoryBudget {
      do throws(CompileError) { options.memoryBudget = try MemoryBudget.flag(memoryBudget) } catch { usage(error) }
    }
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
      Console.say("wrote \(output): [\(batch), \(model.outputWidth)] float32")
    }
    if json {
      Console.emit(OutputSummary.json(result, names: image.isEmpty ? nil : image, output: output))
    } else if !image.isEmpty || output == nil {
      Console.out(OutputSummary.describe(result, names: image.isEmpty ? nil : image))
    }
  }
}
