import Foundation
import Testing
import EAMCompiler
import EAMIngest
import EAMRuntime

/// Every ViT-family fixture compiled and run matches timm (or transformers) on the same input.
@Suite struct MatchesReference {
  static let vitFamily = [
    "vit_tiny", "vit_gap", "vit_features", "deit_tiny", "deit_distilled", "dinov2_small", "dinov2_reg",
    "lambda_vit_shrunk", "hf_vit", "hf_dinov2",
  ]

  @Test(arguments: vitFamily)
  func smallModel(name: String) throws {
    let fixture = try FixtureModel(name)
    let artifact = try fixture.compile()
    let model = try Model(path: artifact)
    let x = try NPY.read(path: fixture.path(".input.npy"))
    let y = try NPY.read(path: fixture.path(".output.npy"))
    let out = try model.run(x.values, batch: x.shape[0])
    #expect([x.shape[0], model.outputWidth] == y.shape)
    let (cosine, rel) = agreement(out, y.values)
    #expect(cosine >= 0.99999, "\(name): cosine \(cosine)")
    #expect(rel <= 1e-4, "\(name): relative L2 \(rel)")
  }

  @Test(arguments: ["vit_tiny", "dinov2_small", "deit_distilled"])
  func f16WeightsStayClose(name: String) throws {
    let fixture = try FixtureModel(name)
    let model = try Model(path: try fixture.compile(precision: .f16))
    let x = try NPY.read(path: fixture.path(".input.npy"))
    let y = try NPY.read(path: fixture.path(".output.npy"))
    let (cosine, _) = agreement(try model.run(x.values, batch: x.shape[0]), y.values)
    #expect(cosine >= 0.9995, "\(name): cosine \(cosine) with f16 weights")
  }

  @Test func resultDoesNotDependOnThreadCount() throws {
    let fixture = try FixtureModel("dinov2_reg")
    let artifact = try fixture.compile()
    let x = try NPY.read(path: fixture.path(".input.npy"))
    var outputs: [[Float]] = []
    for threads in [1, 2, 3] {
      var options = LoadOptions()
      options.threads = threads
      outputs.append(try Model(path: artifact, options: options).run(x.values, batch: x.shape[0]))
    }
    #expect(outputs[0] == outputs[1])
    #expect(outputs[0] == outputs[2])
  }

  @Test func batchRowsEqualSingleRuns() throws {
    let fixture = try FixtureModel("deit_tiny")
    let model = try Model(path: try fixture.compile())
    let x = try NPY.read(path: fixture.path(".input.npy"))
    let both = try model.run(x.values, batch: 2)
    let per = x.count / 2
    let first = try model.run(Array(x.values[0..<per]), batch: 1)
    let second = try model.run(Array(x.values[per...]), batch: 1)
    #expect(both == first + second)
  }
}
