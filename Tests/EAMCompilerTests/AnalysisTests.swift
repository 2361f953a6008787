import Foundation
import Testing
import EAMCompiler
import EAMIngest
import EAMRuntime

/// `eamc analyze` measures what it says: heads that compute the same map are fully explained by
/// each other, entropies are those of the maps the runtime computes, and removal costs are those
/// of the compiled removal.
@Suite struct AnalysisTests {
  static let calib = Paths.repository("examples/images/calib")
  static let eval = Paths.repository("examples/images/eval")

  /// dinov2_small with head 1's query and key rows (weights and biases) copied from head 0 in
  /// every block: both heads then compute the same map.
  static func twinHeads() throws -> String {
    let checkpoint = try CheckpointReader.read(path: FixtureModel("dinov2_small").path(".safetensors"))
    var tensors = checkpoint.tensors
    let d = 64, hd = 32
    for b in 0..<2 {
      for suffix in ["weight", "bias"] {
        let name = "blocks.\(b).attn.qkv.\(suffix)"
        var t = try #require(tensors[name])
        let width = suffix == "weight" ? d : 1
        for part in 0..<2 {  // q, then k
          for r in 0..<hd {
            let from = (part * d + r) * width, to = (part * d + hd + r) * width
            for c in 0..<width { t.values[to + c] = t.values[from + c] }
          }
        }
        tensors[name] = t
      }
    }
    let path = Paths.temporary("twin-heads.safetensors")
    try SafetensorsWriter.write(tensors, to: path)
    return path
  }

  @Test func twinHeadsExplainEachOtherAndRankFirst() throws {
    let path = try Self.twinHeads()
    var o = ModelOverrides()
    o.heads = 2
    let (_, model) = try Compiler.load(path, overrides: o)
    let a = try Analysis.run(model, source: path, images: try ImageFolder.list(Self.calib), evalImages: [], threads: 1)
    #expect(a.heads.count == 4)
    for h in a.heads {
      #expect(h.explained > 0.999, "block \(h.block) head \(h.head): R² \(h.explained)")
    }
    let original = try Compiler.load(FixtureModel("dinov2_small").path(".safetensors"), overrides: o).1
    let plain = try Analysis.run(original, source: "dinov2_small", images: try ImageFolder.list(Self.calib), evalImages: [], threads: 1)
    let explained = plain.heads.map(\.explained)
    #expect(explained.allSatisfy { $0 < 0.9 }, "\(explained)")
  }

  /// Row entropies against the maps the runtime hands its observer; removal costs against a
  /// compile with the block removed, evaluated on the same held-out images.
  @Test func entropiesAndRemovalCostsAreTheRuntimes() throws {
    let path = try FixtureModel("dinov2_small").path(".safetensors")
    var o = ModelOverrides()
    o.heads = 2
    let (_, model) = try Compiler.load(path, overrides: o)
    let images = try ImageFolder.list(Self.calib), held = try ImageFolder.list(Self.eval)
    let a = try Analysis.run(model, source: path, images: images, evalImages: held, threads: 2)
    #expect(a.blocks.count == 2 && a.costImages == "held-out" && a.costImageCount == held.count)

    final class Rows: @unchecked Sendable { var sum = [Double](repeating: 0, count: 4); var count = [Int](repeating: 0, count: 4) }
    let rows = Rows()
    var c = CompileOptions()
    c.overrides = o
    let floatPath = Paths.temporary("analysis-float.eam")
    _ = try Compiler.compile(path, to: floatPath, options: c)
    let float = try Model(path: floatPath, options: { var l = LoadOptions(); l.threads = 1; return l }())
    float.attentionObserver = { block, _, head, map, t, _, _ in
      for r in 0..<t {
        var h = 0.0
        for j in 0..<t where map[r * t + j] > 0 { h -= Double(map[r * t + j]) * log(Double(map[r * t + j])) }
        rows.sum[block * 2 + head] += h
        rows.count[block * 2 + head] += 1
      }
    }
    for image in images { _ = try Evaluation.outputs(float, images: [image], batch: 1) }
    for h in a.heads {
      let expected = rows.sum[h.block * 2 + h.head] / Double(rows.count[h.block * 2 + h.head])
      #expect(abs(h.entropy - expected) < 1e-9, "block \(h.block) head \(h.head): \(h.entropy) vs \(expected)")
    }

    c.removal = AttentionRemovalOptions(selection: .blocks([1]), mode: .lambda)
    let removedPath = Paths.temporary("analysis-removed.eam")
    _ = try Compiler.compile(path, to: removedPath, options: c)
    let removed = try Model(path: removedPath)
    let f = Fidelity.compare(try Evaluation.outputs(removed, images: held), reference: try Evaluation.outputs(float, images: held),
                             width: float.outputWidth, classifier: false)
    let measured = try #require(a.blocks[1].removal.first { $0.0 == .lambda }?.1)
    #expect(abs(measured.meanCosine - f.meanCosine) < 1e-6, "\(measured.meanCosine) vs \(f.meanCosine)")
    #expect(a.blocks.allSatisfy { $0.attentionEntropy.isFinite && $0.mlpEntropy.isFinite })
  }

  @Test func commandPrintsOneJSONObject() throws {
    let run = try CLIRun.eamc("analyze", try FixtureModel("dinov2_small").path(".safetensors"), "--heads", "2",
                              "--calib", Self.calib, "--eval", Self.eval, "--json")
    try #require(run.status == 0, "\(run.stderr)")
    let json = try run.json()
    #expect((json["blocks"] as? [Any])?.count == 2 && (json["heads"] as? [Any])?.count == 4)
    #expect((json["removal_ranking"] as? [Int]).map { Set($0) } == [0, 1])
  }
}
