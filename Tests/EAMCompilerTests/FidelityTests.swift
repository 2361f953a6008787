import Foundation
import Testing

private let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()
private let sharedFolder = projectRoot.deletingLastPathComponent().appendingPathComponent("shared")
private let sharedModel = sharedFolder.appendingPathComponent("models/dinov2_vits14_224.pth").path
private let sharedImages = sharedFolder.appendingPathComponent("images/calib")
private let sharedDataPresent = FileManager.default.fileExists(atPath: sharedModel)
  && FileManager.default.fileExists(atPath: sharedImages.path)

/// The fidelity targets of EAM, checked on the figures of the compile report, as a user gets them:
/// the release `eamc` calibrates the real DINOv2-S/14 (`../shared`) on 47 real images and compiles
/// it with 2-bit frozen maps at 10–50% sparsity (the default criterion, weighted entropy, whose
/// output sensitivity is measured on the calibration images), with `--eval` on the 15 other images
/// (every 4th file by name, never calibrated on). Targets (issue 17): mean cosine to the float
/// model ≥ 0.9995 at 20%, ≥ 0.999 at 30% and ≥ 0.995 at 50%; at 30% and 50% an output error
/// (1 − cosine) at least 30% below the standard-deviation control's; at every sparsity no worse
/// than the std and plain-entropy controls and better than the random control (all in the same
/// report, at the same sparsity).
///
/// A debug build calibrates at ~10 s per image, so this runs the release binary: `make test`
/// builds it first (`swift build -c release --product eamc`). About 6 minutes on 2 cores of an
/// `Intel(R) Xeon(R) Processor`, kernels avx512 (the sensitivity is measured in every compile,
/// about 40 s).
@Suite(.enabled(if: sharedDataPresent, "needs ../shared (the real DINOv2-S/14 and its images)"))
struct HeldOutFidelity {
  static let root = projectRoot
  static let model = sharedModel
  static let images = sharedImages

  /// Minimum mean cosine where the issue sets one.
  static let targets: [Double: Double] = [0.2: 0.9995, 0.3: 0.999, 0.5: 0.995]
  /// Largest output error relative to the std control's, where the issue sets one.
  static let errorRatios: [Double: Double] = [0.3: 0.7, 0.5: 0.7]

  struct Figures { var eam: Double; var entropy: Double; var std: Double; var random: Double; var heldOut: Int }

  @Test func reportFiguresMeetTheTargetsOnHeldOutImages() throws {
    let eamc = Self.root.appendingPathComponent(".build/release/eamc").path
    try #require(FileManager.default.isExecutableFile(atPath: eamc),
                 "build the release eamc first: swift build -c release --product eamc (make test does)")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-fidelity-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let (calib, eval) = try split(into: dir)
    #expect(calib == 47 && eval == 15)

    let stats = dir.appendingPathComponent("calib.eamstats").path
    try run(eamc, ["calibrate", Self.model, "--calib", dir.appendingPathComponent("calib").path, "-o", stats])
    var lines: [String] = []
    for sparsity in [0.1, 0.2, 0.3, 0.4, 0.5] {
      let out = dir.appendingPathComponent("eam\(Int(sparsity * 100)).eam").path
      try run(eamc, ["compile", Self.model, "-o", out, "--stats", stats, "--calib", dir.appendingPathComponent("calib").path,
                     "--sparsity", "\(sparsity)", "--attn-bits", "2", "--eval", dir.appendingPathComponent("eval").path])
      let f = try figures(report: out.replacingOccurrences(of: ".eam", with: ".report.json"))
      lines.append(String(format: "%.0f%%: eam %.5f, entropy %.5f, std %.5f, random %.5f", sparsity * 100, f.eam, f.entropy,
                          f.std, f.random))
      #expect(f.heldOut == 15)
      if let target = Self.targets[sparsity] {
        #expect(f.eam >= target, "\(Int(sparsity * 100))%: cosine \(f.eam) below the target \(target)")
      }
      if let ratio = Self.errorRatios[sparsity] {
        #expect(1 - f.eam <= ratio * (1 - f.std),
                "\(Int(sparsity * 100))%: error \(1 - f.eam) not \(Int((1 - ratio) * 100))% below the std control's \(1 - f.std)")
      }
      #expect(f.eam >= f.entropy, "\(Int(sparsity * 100))%: EAM \(f.eam) below plain entropy \(f.entropy)")
      #expect(f.eam >= f.std, "\(Int(sparsity * 100))%: EAM \(f.eam) below the std control \(f.std)")
      #expect(f.eam > f.random, "\(Int(sparsity * 100))%: EAM \(f.eam) not above the random control \(f.random)")
    }
    print("EAM fidelity on 15 held-out images (2 bits):\n  " + lines.joined(separator: "\n  "))
  }

  /// Links every 4th image (by name) into `eval/`, the others into `calib/`.
  func split(into dir: URL) throws -> (Int, Int) {
    let fm = FileManager.default
    let names = try fm.contentsOfDirectory(atPath: Self.images.path)
      .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
      .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    var counts = (0, 0)
    for (i, name) in names.enumerated() {
      let held = i % 4 == 3
      let folder = dir.appendingPathComponent(held ? "eval" : "calib")
      try fm.createDirectory(at: folder, withIntermediateDirectories: true)
      try fm.createSymbolicLink(at: folder.appendingPathComponent(name), withDestinationURL: Self.images.appendingPathComponent(name))
      if held { counts.1 += 1 } else { counts.0 += 1 }
    }
    return counts
  }

  func run(_ tool: String, _ arguments: [String]) throws {
    let run = try ToolRun(tool, arguments)
    try #require(run.exited && run.status == 0, "eamc \(arguments.prefix(1)) failed: \(run.stderr)")
  }

  func figures(report path: String) throws -> Figures {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let fidelity = try #require(json["fidelity"] as? [String: Any], "\(path) has no fidelity")
    func cosine(_ name: String) throws -> Double {
      let entry = try #require(fidelity[name] as? [String: Any], "\(path): no \(name)")
      return try #require(entry["mean_cosine"] as? Double)
    }
    return Figures(eam: try cosine("eam"), entropy: try cosine("control_entropy"), std: try cosine("control_std"),
                   random: try cosine("control_random"),
                   heldOut: fidelity["held_out_images"] as? Int ?? 0)
  }
}
