import Foundation
import Testing
import EAMCompiler
import EAMIngest
import EAMRuntime

/// The real DINOv2-S/14 against timm on real images.
@Suite struct RealDINOv2 {
  /// The bundled fp16 example, decoded and preprocessed from JPEG by eamc, against timm's output
  /// for the fp16-rounded weights on the same held-out images (examples/reference).
  @Test func bundledExampleMatchesTimmOnHeldOutImages() throws {
    let out = Paths.temporary("example-dinov2.eam")
    _ = try Compiler.compile(Paths.root.appendingPathComponent("examples/models/dinov2_vits14_224.fp16.safetensors").path,
                             to: out, options: CompileOptions())
    let model = try Model(path: out)
    let files = try String(contentsOf: Paths.root.appendingPathComponent("examples/reference/eval_files.txt"), encoding: .utf8)
      .split(separator: "\n").map { Paths.root.appendingPathComponent("examples/" + $0).path }
    let input = try ImageInput.batch(paths: files, preprocessing: model.manifest.preprocessing)
    let expected = try NPY.read(path: Paths.root.appendingPathComponent("examples/reference/eval_outputs.npy").path)
    let got = try model.run(input, batch: files.count)
    for i in 0..<files.count {
      let w = model.outputWidth
      let (cosine, rel) = agreement(Array(got[(i * w)..<((i + 1) * w)]), Array(expected.values[(i * w)..<((i + 1) * w)]))
      #expect(cosine >= 0.99999, "\(files[i]): cosine \(cosine)")
      #expect(rel <= 1e-4, "\(files[i]): relative L2 \(rel)")
    }
  }

  /// The original `.pth` from ../shared (the torch zip format) on two preprocessed real images.
  @Test(.enabled(if: Paths.hasShared)) func sharedCheckpointMatchesTimm() throws {
    let out = Paths.temporary("shared-dinov2.eam")
    _ = try Compiler.compile(Paths.dinov2, to: out, options: CompileOptions())
    let model = try Model(path: out)
    let x = try NPY.read(path: Paths.fixtures.appendingPathComponent("seeded/input_2x3x224x224.npy").path)
    let y = try NPY.read(path: Paths.fixtures.appendingPathComponent("dinov2/output.npy").path)
    let got = try model.run(x.values, batch: 2)
    let (cosine, rel) = agreement(got, y.values)
    #expect(cosine >= 0.99999, "cosine \(cosine)")
    #expect(rel <= 1e-4, "relative L2 \(rel)")
  }
}
