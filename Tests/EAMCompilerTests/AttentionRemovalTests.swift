import Foundation
import Testing
import EAMCompiler
import EAMFormat
import EAMIngest
import EAMRuntime

/// Attention-layer removal against timm with the removed blocks' forward replaced
/// (scripts/make_pass_fixtures.py): `lambda` is x = x + x then the MLP half, `skip` the MLP half alone.
@Suite struct AttentionRemovalTests {
  struct Case: CustomStringConvertible, Sendable {
    let fixture: String, blocks: [Int], mode: String, output: String, input: String
    var description: String { "\(fixture) without attention in \(blocks) (\(mode))" }
  }

  static let cases: [Case] = {
    passFixtureCases("attention_removal").map {
      Case(fixture: $0["fixture"] as! String, blocks: $0["blocks"] as! [Int], mode: $0["mode"] as! String,
           output: $0["output"] as! String, input: $0["input"] as! String)
    }
  }()

  static func heads(_ fixture: String) throws -> Int {
    let meta = try FixtureModel(fixture).meta
    return try #require((meta["timm_kwargs"] as? [String: Any])?["num_heads"] as? Int)
  }

  @Test func indexListsCases() { #expect(Self.cases.count >= 4) }

  @Test(arguments: cases)
  func matchesTimmWithTheBlocksReplaced(_ c: Case) throws {
    var o = CompileOptions()
    o.overrides.heads = try Self.heads(c.fixture)
    o.removal = AttentionRemovalOptions(selection: .blocks(c.blocks), mode: try #require(.init(rawValue: c.mode)))
    let path = Paths.temporary("removal-\(c.fixture)-\(c.mode)-\(c.blocks.map(String.init).joined()).eam")
    let summary = try Compiler.compile(FixtureModel(c.fixture).path(".safetensors"), to: path, options: o)
    let model = try Model(path: path)
    let residual: Manifest.Residual = c.mode == "lambda" ? .double : .identity
    for b in model.manifest.blocks {
      #expect(b.attentionRemoved == c.blocks.contains(b.index))
      #expect(b.effectiveResidual == (c.blocks.contains(b.index) ? residual : .attention))
    }
    // The removed blocks' attention weights are gone from the artifact.
    let artifact = try Artifact(path: path)
    for b in c.blocks {
      #expect(artifact.sections.allSatisfy { !$0.name.hasPrefix("blocks.\(b).attn.") && !$0.name.hasPrefix("blocks.\(b).norm1.") })
    }
    let x = try NPY.read(path: Paths.fixtures.appendingPathComponent(c.input).path)
    let y = try NPY.read(path: Paths.fixtures.appendingPathComponent("passes/" + c.output).path)
    let got = try model.run(x.values, batch: x.shape[0])
    let (cosine, rel) = agreement(got, y.values)
    #expect(cosine >= 0.99999 && rel <= 1e-4, "\(c): cosine \(cosine), relative L2 \(rel)")
    // The report says what was removed and what it saved.
    let record = try #require(summary.report?.pass("attention_removal"))
    guard case .number(let saved)? = record.setting("flops_saved_fraction") else { Issue.record("no flops_saved_fraction"); return }
    #expect(saved > 0 && saved < 1)
  }

  /// `auto:K` removes the K blocks whose removal alone costs least on the calibration images,
  /// and records the ranking (cheapest first).
  @Test func autoRemovesTheCheapestBlocks() throws {
    var o = CompileOptions()
    o.overrides.heads = 2
    o.calibrationImages = try ImageFolder.list(Paths.repository("examples/images/calib"))
    o.removal = AttentionRemovalOptions(selection: .auto(1), mode: .skip)
    let path = Paths.temporary("removal-auto.eam")
    let summary = try Compiler.compile(FixtureModel("dinov2_small").path(".safetensors"), to: path, options: o)
    let record = try #require(summary.report?.pass("attention_removal"))
    guard case .array(let ranking)? = record.setting("ranking"), case .array(let blocks)? = record.setting("blocks") else {
      Issue.record("no ranking"); return
    }
    func cosine(_ j: JSON) -> Double { if case .object(let f) = j, case .number(let v)? = f.first(where: { $0.0 == "mean_cosine" })?.1 { v } else { -1 } }
    func block(_ j: JSON) -> Int { if case .object(let f) = j, case .int(let v)? = f.first(where: { $0.0 == "block" })?.1 { v } else { -1 } }
    #expect(ranking.count == 2 && cosine(ranking[0]) >= cosine(ranking[1]))
    guard case .int(let removed)? = blocks.first else { Issue.record("no block"); return }
    #expect(removed == block(ranking[0]))
    #expect(try Model(path: path).manifest.blocks[removed].attentionRemoved)
  }

  @Test func refusesBlocksThatDoNotExist() throws {
    var o = CompileOptions()
    o.overrides.heads = 2
    o.removal = AttentionRemovalOptions(selection: .blocks([5]))
    #expect(throws: CompileError.self) {
      try Compiler.compile(FixtureModel("dinov2_small").path(".safetensors"), to: Paths.temporary("removal-bad.eam"), options: o)
    }
    #expect(!FileManager.default.fileExists(atPath: Paths.temporary("removal-bad.eam")))
  }

  /// Removal then EAM in one compile: EAM freezes entries of the blocks that keep attention only.
  @Test func composesWithEAM() throws {
    var o = CompileOptions()
    o.overrides.heads = 2
    o.calibrationImages = try ImageFolder.list(Paths.repository("examples/images/calib"))
    o.calibration.progress = false
    o.removal = AttentionRemovalOptions(selection: .blocks([0]))
    var e = EAMOptions()
    e.sparsity = 0.2
    o.eam = e
    let path = Paths.temporary("removal-eam.eam")
    _ = try Compiler.compile(FixtureModel("dinov2_small").path(".safetensors"), to: path, options: o)
    let m = try Model(path: path).manifest
    #expect(m.blocks[0].attentionRemoved && m.blocks[0].frozen.isEmpty)
    #expect(!m.blocks[1].attentionRemoved && !m.blocks[1].frozen.isEmpty)
  }
}
