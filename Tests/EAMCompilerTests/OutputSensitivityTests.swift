import Foundation
import Testing
@testable import EAMCompiler
import EAMFormat
import EAMRuntime

/// The output sensitivity behind the weighted-entropy criterion, on the small DINOv2 fixture
/// (class-token output) with the bundled images.
@Suite struct OutputSensitivityTests {
  static let checkpoint = EAMEndToEnd.checkpoint
  static let images = Array(EAMEndToEnd.images.prefix(4))

  static func description() throws -> ModelDescription {
    var overrides = ModelOverrides()
    overrides.heads = 2
    return try Compiler.load(checkpoint, overrides: overrides).1
  }

  /// `localWeights` (a Gram form through the kernels) against the definition in Double:
  /// w_ij = ‖γ ⊙ W_o,h (v_j − ō_i)‖², ō_i = Σ_j a_ij v_j, from the map and V the observer sees.
  @Test func localWeightsAreTheBlockOutputChangePerUnitCoefficient() throws {
    let model = try Self.description()
    let float = try Evaluation.model(of: model, name: "float", threads: 2, source: "fixture")
    let image = [Self.images[0]]
    let local = try OutputSensitivity.localWeights(model, floatModel: float, images: image,
                                                   blocks: model.blocks.map { _ in true })
    let t = model.tokens, block = model.blocks.count - 1, head = 1
    let d = model.blocks[block].dim, hd = d / model.blocks[block].heads
    let seen = Captured()
    float.attentionObserver = { b, _, h, map, tokens, values, stride in
      guard b == block, h == head else { return }
      seen.map = Array(UnsafeBufferPointer(start: map, count: tokens * tokens))
      seen.values = (0..<tokens).flatMap { j in (0..<hd).map { values[j * stride + $0] } }
    }
    _ = try Evaluation.outputs(float, images: image, batch: 1)
    float.attentionObserver = nil
    let w = model.weights[ViTSections.Block(block).proj.weight]!.values
    let gamma = model.weights["blocks.\(block).ls1.gamma"]?.values ?? [Float](repeating: 1, count: d)
    let measured = try #require(local[block]?[head])
    var worst = 0.0, largest = 0.0
    for i in 0..<t {
      let o = (0..<hd).map { a in (0..<t).reduce(0.0) { $0 + Double(seen.map[i * t + $1]) * Double(seen.values[$1 * hd + a]) } }
      for j in stride(from: 0, to: t, by: 7) {
        var sum = 0.0
        for c in 0..<d {
          var y = 0.0
          for a in 0..<hd { y += Double(w[c * d + head * hd + a]) * (Double(seen.values[j * hd + a]) - o[a]) }
          sum += Double(gamma[c]) * Double(gamma[c]) * y * y
        }
        worst = max(worst, abs(Double(measured[i * t + j]) - sum))
        largest = max(largest, sum)
      }
    }
    #expect(largest > 0)
    #expect(worst <= 1e-3 * largest, "largest difference \(worst) of values up to \(largest)")
  }

  /// The output is the class token: nothing the last block does to the patch rows reaches it,
  /// which the probes measure as exactly 0, while its class-token row and earlier blocks count.
  @Test func theLastBlocksPatchRowsDoNotReachTheOutput() throws {
    let model = try Self.description()
    var options = EAMEndToEnd.options(sparsity: 0.3)
    options.calibrationImages = Self.images
    let path = EAMEndToEnd.temporary("sensitivity.eamstats")
    let stats = try Compiler.calibrate(Self.checkpoint, images: Self.images, options: options, to: path)
    let float = try Evaluation.model(of: model, name: "float", threads: 2, source: "fixture")
    let context = PassContext(source: "fixture", options: options, recognised: model, floatModel: float, statistics: stats)
    let perHead = Calibration.result(stats, model: model).perHead
    let (measured, reach) = try OutputSensitivity.measure(perHead, model: model, options: options.eam!, context: context,
                                                          images: Self.images)
    let last = try #require(reach[model.blocks.count - 1])
    #expect(last.patch == 0 && last.prefix > 0, "\(last)")
    let first = try #require(reach[0])
    #expect(first.patch > 0 && first.prefix > 0, "\(first)")
    let s = try #require(measured[model.blocks.count - 1]?[0].sensitivity)
    let t = model.tokens
    #expect(s[t...].allSatisfy { $0 == 0 } && s[..<t].contains { $0 > 0 })
  }

  /// The sums the measurement holds are checked against the memory budget before anything is run.
  @Test func theMeasurementStaysWithinTheMemoryBudget() throws {
    let model = try Self.description()
    var options = EAMEndToEnd.options(sparsity: 0.3)
    options.calibration.memoryBudget = 1024
    let stats = try Compiler.calibrate(Self.checkpoint, images: Self.images, options: EAMEndToEnd.options(sparsity: 0.3),
                                       to: EAMEndToEnd.temporary("budget.eamstats"))
    let float = try Evaluation.model(of: model, name: "float", threads: 2, source: "fixture")
    let context = PassContext(source: "fixture", options: options, recognised: model, floatModel: float, statistics: stats)
    #expect {
      _ = try OutputSensitivity.measure(Calibration.result(stats, model: model).perHead, model: model, options: options.eam!,
                                        context: context, images: Self.images)
    } throws: { ($0 as? CompileError)?.description.contains("over the memory budget of") == true }
  }

  /// Unmeasured, the weighted criterion ranks exactly as plain entropy (weight 1 everywhere).
  @Test func withoutSensitivityWeightedEntropyIsEntropy() throws {
    let model = try Self.description()
    let path = EAMEndToEnd.temporary("plain.eamstats")
    let stats = try Compiler.calibrate(Self.checkpoint, images: Self.images, options: EAMEndToEnd.options(sparsity: 0.3), to: path)
    let perHead = Calibration.result(stats, model: model).perHead
    var o = EAMOptions()
    o.sparsity = 0.3
    o.criterion = .weightedEntropy
    let weighted = EAMPass.apply(model, statistics: perHead, options: o)
    o.criterion = .entropy
    let plain = EAMPass.apply(model, statistics: perHead, options: o)
    #expect(!plain.frozenMaps.isEmpty && weighted.frozenMaps == plain.frozenMaps)
  }
}

private final class Captured: @unchecked Sendable {
  var map: [Float] = []
  var values: [Float] = []
}
