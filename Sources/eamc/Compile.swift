import ArgumentParser
import EAMCompiler

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile a checkpoint (.pth/.pt/.bin/.ckpt, .safetensors, .npz) into an .eam artifact.")

  @Argument(help: "The checkpoint to compile.")
  var checkpoint: String

  @Option(name: .shortAndLong, help: "The artifact to write.")
  var output: String

  @Option(help: "Stored weight type: f32 or f16.")
  var weights: String = "f32"

  @Option(help: "Attention heads per block (default: width / 64).")
  var heads: Int?

  @Option(name: .customLong("image-size"), help: "Input image side for checkpoints that do not record it (Swin; default 224).")
  var imageSize: Int?

  @Option(help: "Preprocessing: resize the shorter side to this many pixels (default: crop / 0.875).")
  var resize: Int?

  @Option(help: "Preprocessing: mean per RGB channel, e.g. 0.5,0.5,0.5 (default: ImageNet's).")
  var mean: String?

  @Option(help: "Preprocessing: standard deviation per RGB channel (default: ImageNet's).")
  var std: String?

  @OptionGroup var eam: EAMFlags

  @Option(help: ArgumentHelp(stringLiteral: MemoryBudget.help))
  var memoryBudget: String?

  @Option(help: "Held-out images (a folder) for the report's fidelity and the controls.")
  var eval: String?

  @Option(help: "Where to write the report (default: beside the artifact, NAME.report.json).")
  var report: String?

  func run() throws {
    AtomicFile.acceptInterruption()
    var options = CompileOptions()
    guard let precision = WeightPrecision(rawValue: weights) else { fail("--weights must be f32 or f16, not '\(weights)'") }
    options.precision = precision
    if let heads, heads < 1 { fail("--heads must be at least 1") }
    options.overrides.heads = heads
    if let imageSize, imageSize < 1 { fail("--image-size must be at least 1") }
    options.overrides.imageSize = imageSize
    if let resize, resize < 1 { fail("--resize must be at least 1") }
    options.overrides.resizeShorterSide = resize
    options.overrides.mean = try mean.map { try triple($0, "--mean") }
    options.overrides.std = try std.map { try triple($0, "--std") }
    eam.apply(to: &options)
    if let memoryBudget {
      do throws(CompileError) { options.calibration.memoryBudget = try MemoryBudget.flag(memoryBudget) } catch { fail(error) }
    }
    if let eval {
      do throws(CompileError) { options.evalImages = try ImageFolder.list(eval) } catch { fail(error) }
    }
    options.reportPath = report
    let summary: CompileSummary
    do throws(CompileError) {
      summary = try Compiler.compile(checkpoint, to: output, options: options)
    } catch {
      fail(error)
    }
    let a = summary.model.architecture
    print("read \(checkpoint) (\(summary.format.rawValue), \(summary.origin)): \(a.family.name), \(summary.model.parameterCount) parameters")
    for note in summary.model.notes { print("  note: \(note)") }
    print("wrote \(output): \(summary.artifactBytes) bytes (float32 weights: \(summary.floatBytes) bytes)")
    if let r = summary.report, let path = summary.reportPath {
      let frozen = summary.model.blocks.reduce(0) { $0 + $1.frozen.reduce(0) { $0 + $1.frozenEntries } }
      print("EAM: \(frozen) attention entries frozen (\(r.sparsity * 100)% target) in \(r.bits) bits, calibrated on \(r.calibrationImages) images")
      for (name, f) in r.fidelity {
        print("  \(name.padding(toLength: 16, withPad: " ", startingAt: 0)) cosine to float on \(f.images) held-out images: mean \(String(format: "%.5f", f.meanCosine)), min \(String(format: "%.5f", f.minCosine))")
      }
      if let worst = r.layerError.indices.max(by: { r.layerError[$0] < r.layerError[$1] }) {
        print("  per-block error of the residual stream (\(r.layerErrorImages) images): " +
              r.layerError.map { String(format: "%.3f", $0) }.joined(separator: " ") + "; largest at block \(worst)")
      }
      print("wrote \(path)")
    }
  }

  private func triple(_ s: String, _ flag: String) throws -> [Float] {
    let parts = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 3, !s.split(separator: ",").contains(where: { Float($0.trimmingCharacters(in: .whitespaces)) == nil }) else {
      fail("\(flag) takes three comma-separated numbers, not '\(s)'")
    }
    if flag == "--std", parts.contains(where: { $0 <= 0 }) { fail("--std values must be positive") }
    return parts
  }
}

import Foundation
