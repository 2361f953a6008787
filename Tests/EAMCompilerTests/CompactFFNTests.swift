import Foundation
import Testing
import EAMCompiler
import EAMFormat
import EAMIngest
import EAMRuntime

/// Compact FFN against a NumPy re-implementation of the same arithmetic on timm's activations
/// (scripts/make_pass_fixtures.py): MLP outputs projected onto their r leading principal
/// directions around their mean.
@Suite struct CompactFFNTests {
  struct Case: CustomStringConvertible, Sendable {
    let fixture: String, fraction: Double, output: String, input: String
    var description: String { "\(fixture) at rank fraction \(fraction)" }
  }

  static let cases: [Case] = {
    passFixtureCases("compact_ffn").map {
      Case(fixture: $0["fixture"] as! String, fraction: $0["rank_fraction"] as! Double, output: $0["output"] as! String,
           input: $0["input"] as! String)
    }
  }()

  @Test func indexListsCases() { #expect(Self.cases.count >= 2) }

  @Test(arguments: cases)
  func matchesTheNumPyReference(_ c: Case) throws {
    var o = ModelOverrides()
    o.heads = try #require((try FixtureModel(c.fixture).meta["timm_kwargs"] as? [String: Any])?["num_heads"] as? Int)
    let (_, model) = try Compiler.load(try FixtureModel(c.fixture).path(".safetensors"), overrides: o)
    let x = try NPY.read(path: Paths.fixtures.appendingPathComponent(c.input).path)
    let compact = try CompactFFN.compress(model, batches: [(x.values, x.shape[0])], options: CompactFFNOptions(rankFraction: c.fraction))
    let rank = max(1, Int((c.fraction * Double(model.architecture.embedDim)).rounded()))
    #expect(compact.blocks.allSatisfy { $0.mlpRank == rank })
    #expect(compact.parameterCount < model.parameterCount)
    let bytes = try Emitter.artifact(for: compact, settings: EmitSettings())
    let artifact = try Artifact(bytes: bytes, name: "compact.eam")
    #expect(artifact.header.minor >= 2)
    #expect(artifact.sections.contains { $0.name == "blocks.0.mlp.fc2.reduce.weight" && $0.shape == [rank, model.blocks[0].mlpHidden] })
    #expect(!artifact.sections.contains { $0.name == "blocks.0.mlp.fc2.weight" })
    let got = try Model(artifact: artifact).run(x.values, batch: x.shape[0])
    let y = try NPY.read(path: Paths.fixtures.appendingPathComponent("passes/" + c.output).path)
    let (cosine, rel) = agreement(got, y.values)
    #expect(cosine >= 0.9999 && rel <= 1e-2, "\(c): cosine \(cosine), relative L2 \(rel)")
    // And it is a real approximation: the uncompressed model differs more from the reference.
    let full = try Model(artifact: try Artifact(bytes: try Emitter.artifact(for: model, settings: EmitSettings()), name: "f.eam"))
    let (fullCosine, _) = agreement(try full.run(x.values, batch: x.shape[0]), y.values)
    #expect(fullCosine < cosine, "\(c): the reference is no different from the float model (\(fullCosine))")
  }

  /// The small DINOv2 fixture (2 heads) with a compact FFN at rank fraction 0.25, fitted on its
  /// input, and that input.
  static func compactSmallModel() throws -> (ModelDescription, Tensor) {
    var o = ModelOverrides()
    o.heads = 2
    let (_, model) = try Compiler.load(try FixtureModel("dinov2_small").path(".safetensors"), overrides: o)
    let x = try NPY.read(path: try FixtureModel("dinov2_small").path(".input.npy"))
    return (try CompactFFN.compress(model, batches: [(x.values, x.shape[0])], options: CompactFFNOptions(rankFraction: 0.25)), x)
  }

  /// All blocks in one parallel step split by rows give the bits of block by block with a compact
  /// FFN too, run after run: the rank-wide rows between its two factors must not land on
  /// LayerNorm rows another thread's fc1 is still reading (they once did, at the rank's stride).
  @Test func rowSplitThreadsGiveTheBlockByBlockBits() throws {
    let (compact, x) = try Self.compactSmallModel()
    let artifact = try Artifact(bytes: try Emitter.artifact(for: compact, settings: EmitSettings()), name: "compact.eam")
    let images = 8, batch = Array(repeating: x.values, count: images / x.shape[0]).flatMap { $0 }
    var options = LoadOptions()
    options.threads = 2
    let apart = try Model(artifact: artifact, options: options)
    apart.sublayerObserver = { _, _, _, _, _ in }
    let expected = try apart.run(batch, batch: images)
    for threads in [2, 3] {
      options.threads = threads
      let model = try Model(artifact: artifact, options: options)
      for run in 0..<4 {
        let y = try model.run(batch, batch: images)
        #expect(bitDifference(y, expected) == nil, "threads \(threads), run \(run): \(bitDifference(y, expected) ?? "")")
      }
    }
  }

  /// A rank the runtime cannot hold (not below the width) is refused at load in one line.
  @Test func refusesARankNotBelowTheWidth() throws {
    var (compact, _) = try Self.compactSmallModel()
    compact.blocks[0].mlpRank = 64
    let artifact = try Artifact(bytes: try Emitter.artifact(for: compact, settings: EmitSettings()), name: "bad.eam")
    #expect(throws: RuntimeError.self) { _ = try Model(artifact: artifact) }
  }

  /// Through `eamc compile`: fitted on calibration images, recorded in the report, runs.
  @Test func compilesFromTheCommandLine() throws {
    let dir = CLIRun.folder("compact-ffn")
    let eam = dir.appendingPathComponent("c.eam").path
    let run = try CLIRun.eamc("compile", try FixtureModel("dinov2_small").path(".safetensors"), "--heads", "2", "-o", eam,
                              "--compact-ffn", "0.25", "--calib", Paths.repository("examples/images/calib"),
                              "--eval", Paths.repository("examples/images/eval"), "--json")
    try #require(run.status == 0, "\(run.stderr)")
    let m = try Model(path: eam).manifest
    #expect(m.blocks.allSatisfy { $0.mlpRank == 16 })
    let bad = try CLIRun.eamc("compile", try FixtureModel("dinov2_small").path(".safetensors"), "--heads", "2", "-o", eam,
                              "--compact-ffn", "0.25")
    #expect(bad.status == 2 && bad.stderr.contains("--calib"), "\(bad.stderr)")
  }
}
