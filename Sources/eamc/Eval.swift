import ArgumentParser
import EAMCompiler
import Foundation

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare a compiled artifact with the float checkpoint it came from, on images.")

  @Argument(help: "The .eam artifact.")
  var artifact: String

  @Option(help: "The float checkpoint it was compiled from.")
  var reference: String

  @Option(help: "A folder of images (JPEG, PNG) not used for calibration.")
  var images: String

  @Option(help: "Threads (default: all cores).")
  var threads: Int?

  @Flag(help: "Print one JSON object.")
  var json = false

  func run() throws {
    let files: [String]
    do throws(CompileError) { files = try ImageFolder.list(images) } catch { fail(error) }
    let result: Fidelity
    do throws(CompileError) {
      result = try Evaluation.evaluate(artifact: artifact, reference: reference, images: files, threads: threads)
    } catch { fail(error) }
    if json {
      print(result.json.text)
    } else {
      print("\(artifact) against \(reference) on \(result.images) images from \(images):")
      print("  cosine          mean \(String(format: "%.6f", result.meanCosine)), min \(String(format: "%.6f", result.minCosine))")
      print("  relative error  mean \(String(format: "%.6f", result.meanRelativeError))")
      if let top1 = result.top1Agreement { print("  top-1 agreement \(String(format: "%.1f", top1 * 100))%") }
    }
  }
}
