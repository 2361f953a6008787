import Foundation
import Testing
import EAMCompiler
import EAMFormat
import EAMIngest
import EAMRuntime

/// Hallucinated heads against a NumPy re-implementation (least squares over timm's maps,
/// scripts/make_pass_fixtures.py): the same heads chosen, the same output.
@Suite struct HallucinatedHeadsTests {
  struct Case: CustomStringConvertible, Sendable {
    let fixture: String, fraction: Double, heads: [[Int]], output: String, input: String
    var description: String { "\(fixture), fraction \(fraction)" }
  }

  static let cases: [Case] = {
    passFixtureCases("hallucinated_heads").map {
      Case(fixture: $0["fixture"] as! String, fraction: $0["fraction"] as! Double, heads: $0["heads"] as! [[Int]],
           output: $0["output"] as! String, input: $0["input"] as! String)
    }
  }()

  @Test func indexListsCases() { #expect(Self.cases.count >= 2) }

  @Test(arguments: cases)
  func matchesTheNumPyReference(_ c: Case) throws {
    var o = ModelOverrides()
    o.heads = try #require((try FixtureModel(c.fixture).meta["timm_kwargs"] as? [String: Any])?["num_heads"] as? Int)
    let (_, model) = try Compiler.load(try FixtureModel(c.fixture).path(".safetensors"), overrides: o)
    let x = try NPY.read(path: Paths.fixtures.appendingPathComponent(c.input).path)
    let per = x.count / x.shape[0]
    let batches = (0..<x.shape[0]).map { (values: Array(x.values[($0 * per)..<(($0 + 1) * per)]), images: 1) }
    let made = try HallucinatedHeads.compress(model, batches: batches, options: HallucinationOptions(fraction: c.fraction))
    #expect(made.blocks.map { $0.hallucinated.map(\.head) } == c.heads)
    let artifact = try Artifact(bytes: try Emitter.artifact(for: made, settings: EmitSettings()), name: "h.eam")
    #expect(artifact.header.minor >= 2)
    // The hallucinated heads' Q and K rows are gone.
    let d = model.architecture.embedDim, hd = d / o.heads!
    let qkv = try #require(artifact.section("blocks.0.attn.qkv.weight"))
    #expect(qkv.shape == [3 * d - 2 * hd * c.heads[0].count, d])
    let runtime = try Model(artifact: artifact)
    let got = try runtime.run(x.values, batch: x.shape[0])
    let y = try NPY.read(path: Paths.fixtures.appendingPathComponent("passes/" + c.output).path)
    let (cosine, rel) = agreement(got, y.values)
    #expect(cosine >= 0.99999 && rel <= 1e-3, "\(c): cosine \(cosine), relative L2 \(rel)")
    // Rows of the hallucinated maps sum to 1.
    final class Worst: @unchecked Sendable { var value: Float = 0 }
    let worst = Worst()
    let madeHeads = made.blocks.map { Set($0.hallucinated.map(\.head)) }
    runtime.attentionObserver = { block, _, head, map, t, _, _ in
      guard madeHeads[block].contains(head) else { return }
      for r in 0..<t { worst.value = max(worst.value, abs((0..<t).reduce(Float(0)) { $0 + map[r * t + $1] } - 1)) }
    }
    _ = try runtime.run(x.values, batch: x.shape[0])
    #expect(worst.value < 1e-5)
  }

  /// A manifest whose hallucinated heads are out of their domain is refused in one line.
  @Test func refusesBadHallucinatedHeads() throws {
    var o = ModelOverrides()
    o.heads = 4
    let (_, model) = try Compiler.load(try FixtureModel("deit_tiny").path(".safetensors"), overrides: o)
    let x = try NPY.read(path: try FixtureModel("deit_tiny").path(".input.npy"))
    let per = x.count / x.shape[0]
    let made = try HallucinatedHeads.compress(model, batches: [(Array(x.values[0..<per]), 1)], options: HallucinationOptions(fraction: 0.5))
    let h = made.blocks[0].hallucinated[0]
    let mutations: [(String, (inout Manifest.HallucinatedHead) -> Void)] = [
      ("source is itself", { $0.sources[0] = h.head }),
      ("source out of range", { $0.sources[0] = 99 }),
      ("weights and sources differ in count", { $0.weights.append(1) }),
      ("NaN weight", { $0.weights[0] = .nan }),
      ("infinite intercept", { $0.intercept = .infinity }),
      ("head out of range", { $0.head = 7 }),
    ]
    for (what, mutate) in mutations {
      var bad = made
      mutate(&bad.blocks[0].hallucinated[0])
      let artifact = try Artifact(bytes: try Emitter.artifact(for: bad, settings: EmitSettings()), name: "bad.eam")
      #expect(throws: RuntimeError.self, "\(what)") { _ = try Model(artifact: artifact) }
    }
  }

  /// Through `eamc compile`, with EAM in the same compile: hallucinated heads get no frozen entries.
  @Test func compilesWithEAM() throws {
    let dir = CLIRun.folder("hallucinate")
    let eam = dir.appendingPathComponent("h.eam").path
    let run = try CLIRun.eamc("compile", try FixtureModel("deit_tiny").path(".safetensors"), "--heads", "4", "-o", eam,
                              "--hallucinate-heads", "0.5", "--sparsity", "0.2", "--calib", Paths.repository("examples/images/calib"))
    try #require(run.status == 0, "\(run.stderr)")
    let m = try Model(path: eam).manifest
    for b in m.blocks {
      #expect(b.hallucinated.count == 2)
      let made = Set(b.hallucinated.map(\.head))
      #expect(b.frozen.allSatisfy { !made.contains($0.head) })
    }
    #expect(m.blocks.contains { !$0.frozen.isEmpty })
  }
}
