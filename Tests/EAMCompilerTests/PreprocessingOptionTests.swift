import Foundation
import Testing
import EAMCompiler
import EAMFormat

/// Preprocessing flags outside their domain are refused at compile time (one line, no output),
/// and an artifact whose manifest carries such settings cannot make `eamc run` trap.
@Suite struct PreprocessingOptionTests {
  static let model = AtomicOutput.root.appendingPathComponent("Tests/Fixtures/models/vit_tiny.safetensors").path
  /// Input 224: `--resize 100` is smaller than its crop.
  static let dinov2 = AtomicOutput.root.appendingPathComponent("examples/models/dinov2_vits14_224.fp16.safetensors").path

  @Test(arguments: [
    (["--resize", "100"], "crop 224 is larger than the resize 100"),
    (["--resize", "0"], "--resize must be at least 1"),
    (["--resize", "100000"], "resize 100000 is outside 1…8192"),
    (["--std", "nan,0.2,0.2"], "std nan (channel 0)"),
    (["--std", "0.2,inf,0.2"], "std inf (channel 1)"),
    (["--mean", "0.5,nan,0.5"], "mean nan (channel 1)"),
    (["--std", "1e-40,0.2,0.2"], "make normalised values overflow"),
  ])
  func badFlagsAreRefused(_ flags: [String], _ fragment: String) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-pre-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let run = try ToolRun(try AtomicOutput.eamc(), ["compile", Self.dinov2, "-o", dir.appendingPathComponent("m.eam").path] + flags)
    #expect(run.failedWithOneLine && run.stderr.contains(fragment), "\(flags): \(run.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  /// Library callers: a mean or std of the wrong length, a crop of 0.
  @Test func libraryOverridesAreChecked() {
    for change in [{ (o: inout ModelOverrides) in o.mean = [0.5, 0.5] }, { o in o.std = [1, 1, 1, 1] },
                   { o in o.cropSize = 0 }, { o in o.resizeShorterSide = 8193 }] {
      var options = CompileOptions()
      options.overrides.heads = 2
      change(&options.overrides)
      #expect(throws: CompileError.self) { _ = try Compiler.load(Self.model, overrides: options.overrides) }
    }
  }

  /// A manifest with a crop of 0 or a std of 0 (a hostile artifact): one line naming the image.
  @Test func hostileManifestPreprocessingIsRefused() throws {
    let image = AtomicOutput.root.appendingPathComponent("examples/images/calib").path
    let file = try #require(try FileManager.default.contentsOfDirectory(atPath: image).sorted().first)
    for change in [{ (p: inout Manifest.Preprocessing) in p.cropSize = 0 }, { p in p.std = [0, 1, 1] },
                   { p in p.mean = [] }, { p in p.resizeShorterSide = 1 << 40 }] {
      var p = Manifest.Preprocessing()
      p.resizeShorterSide = 256
      p.cropSize = 224
      p.mean = [0.5, 0.5, 0.5]
      p.std = [0.5, 0.5, 0.5]
      change(&p)
      #expect {
        _ = try ImageInput.load(path: image + "/" + file, preprocessing: p)
      } throws: { error in
        "\(error)".contains(file) && "\(error)".contains("preprocessing is unusable")
      }
    }
  }
}
