import ArgumentParser
import EAMCompiler
import EAMFormat
import EAMRuntime
import Foundation

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare a compiled artifact with independent references on held-out images.",
    discussion: """
      References: --reference, the float checkpoint recognised afresh (its own head count, \
      preprocessing and family: a warning names every way the artifact differs from it), and/or \
      --reference-outputs, the outputs your framework computed (e.g. timm), one row per image in \
      name order. Only the second can see a head count that both guessed wrong.

      Held-out images that are calibration images are refused: the artifact keeps the hash of \
      its calibration set (a set equal to it is found), and --stats FILE (the .eamstats keep \
      each image's hash) finds any single one.

      Examples:
        eamc eval model.eam20.eam --reference model.pth --images heldout/
        eamc eval model.eam20.eam --reference-outputs timm.npy --images heldout/
      \(ExitStatus.help)
      """)

  @Argument(help: "The .eam artifact.")
  var artifact: String

  @Option(help: ArgumentHelp("The float checkpoint it was compiled from (recognised afresh).", valueName: "checkpoint"))
  var reference: String?

  @Option(help: ArgumentHelp("Reference outputs as .npy, [images, width], rows in the images' name order.", valueName: "y.npy"))
  var referenceOutputs: String?

  @Option(help: ArgumentHelp("A folder of images (JPEG, PNG) not used for calibration.", valueName: "folder"))
  var images: String

  @Option(parsing: .upToNextOption, help: ArgumentHelp("The calibration statistics the artifact was compiled from: each held-out image is checked against them.", valueName: "file"))
  var stats: [String] = []

  @Flag(help: "Proceed although images are calibration images (the figures are then not held-out).")
  var allowOverlap = false

  @Option(parsing: .unconditional, help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
  var threads: Int?

  @Flag(help: "Print one JSON object.")
  var json = false

  @OptionGroup(title: "Output") var log: LogFlags

  func run() throws {
    log.apply(json: json)
    Check.threads(threads)
    guard reference != nil || referenceOutputs != nil else { usage("give --reference CHECKPOINT and/or --reference-outputs Y.npy") }
    var options = LoadOptions()
    if let threads { options.threads = threads }
    let compiled: Model
    do throws(RuntimeError) { compiled = try Model(path: artifact, options: options) } catch { fail(error) }
    let m = compiled.manifest
    var warnings: [String] = [], overlapNote: String
    let files: [String], hashes: [String]
    do throws(CompileError) {
      if let reference { try Preflight.checkpoint(reference) }
      files = try ImageFolder.list(images)
      hashes = try Preflight.images(files, role: "held-out")
      var shared: [String] = []
      if !m.calibration.imageSHA256.isEmpty {
        shared = Preflight.overlap(files, hashes: hashes, calibrationHashes: m.calibration.imageSHA256)
      } else if m.calibration.images > 0, Preflight.setHash(hashes) == m.calibration.setSHA256 {
        shared = files
      }
      if !stats.isEmpty {
        for s in stats { try Preflight.checkpoint(s) }
        shared += try Preflight.overlap(files, hashes: hashes, statistics: stats).filter { !shared.contains($0) }
      }
      overlapNote = stats.isEmpty
        ? (!m.calibration.imageSHA256.isEmpty ? "each image checked against the artifact's \(m.calibration.imageSHA256.count) calibration image hashes"
           : m.calibration.images > 0 ? "checked against the artifact's calibration set hash (the whole set only; --stats checks each image)"
           : "the artifact was not calibrated")
        : "each image checked against \(stats.count) statistics file(s)"
      if !shared.isEmpty {
        let list = shared.prefix(3).joined(separator: ", ") + (shared.count > 3 ? " and \(shared.count - 3) more" : "")
        guard allowOverlap else {
          throw CompileError("\(images): \(shared.count) of \(files.count) images are calibration images of \(artifact) (\(list)): not held-out; use other images, or --allow-overlap")
        }
        warnings.append("WARNING: \(shared.count) of \(files.count) images are calibration images: the figures are not held-out")
      }
    } catch { fail(error) }

    var results: [(String, String, Fidelity)] = []
    let classifier = m.architecture.numClasses > 0
    let outputs: [Float]
    do throws(CompileError) {
      var fresh: (Model, ModelDescription)?
      if let reference {
        fresh = try IndependentReference.model(reference, threads: threads)
        for d in IndependentReference.differences(artifact: m, fresh: fresh!.1) {
          warnings.append("WARNING: \(artifact) differs from \(reference) recognised afresh: \(d)")
        }
        if fresh!.1.headCount.isGuess {
          warnings.append("note: the checkpoint's head count is a guess here too; only --reference-outputs from your framework can show a wrong guess")
        }
        guard fresh!.0.outputWidth == compiled.outputWidth else {
          throw CompileError("\(reference): outputs \(fresh!.0.outputWidth) values, \(artifact) \(compiled.outputWidth): not the model it was compiled from")
        }
      }
      for w in warnings { Progress.note(w) }
      Console.say("eval: \(artifact) on \(files.count) images in \(images) (\(overlapNote))")
      outputs = try Evaluation.outputs(compiled, images: files, progress: Progress("running \(artifact)", total: files.count))
      if let reference, let (model, _) = fresh {
        let ref = try Evaluation.outputs(model, images: files, progress: Progress("running the reference", total: files.count))
        results.append(("checkpoint", reference, Fidelity.compare(outputs, reference: ref, width: compiled.outputWidth, classifier: classifier)))
      }
      if let referenceOutputs {
        results.append(("outputs", referenceOutputs, try IndependentReference.compare(outputs, width: compiled.outputWidth, npy: referenceOutputs,
                                                                                      images: files.count, classifier: classifier)))
      }
    } catch { fail(error) }

    if json {
      Console.emit(.object([
        ("artifact", .string(artifact)), ("images", .int(files.count)), ("folder", .string(images)),
        ("overlap_check", .string(overlapNote)), ("warnings", .array(warnings.map { .string($0) })),
        ("references", .array(results.map { kind, path, f in
          .object([("kind", .string(kind)), ("path", .string(path)), ("fidelity", f.json)])
        })),
      ] + (results.count == 1 ? [("fidelity", results[0].2.json)] : [])))
      return
    }
    for (kind, path, result) in results {
      Console.out("\(artifact) against \(kind == "checkpoint" ? "\(path) (recognised afresh)" : "outputs \(path)") on \(result.images) images from \(images):")
      Console.out("  cosine          mean \(String(format: "%.6f", result.meanCosine)), min \(String(format: "%.6f", result.minCosine))")
      Console.out("  relative error  mean \(String(format: "%.6f", result.meanRelativeError))")
      if let top1 = result.top1Agreement { Console.out("  top-1 agreement \(String(format: "%.1f", top1 * 100))%") }
    }
  }
}
