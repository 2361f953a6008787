import Foundation
import Testing
import EAMCompiler
import EAMIngest
import EAMKernels
import EAMRuntime

/// Compiling each small fixture today gives the committed artifact of Tests/Fixtures/runtime byte
/// for byte (the runtime's tests run on those files), and the fresh compile matches timm:
/// f32 weights to cosine 0.99999 and relative L2 1e-4, f16 to cosine 0.9995.
@Suite struct CommittedArtifacts {
  @Test func indexIsReadableAndListsEveryFixture() throws {
    let all = try CompiledFixture.index.get().artifacts
    #expect(all.count == 18)
    #expect(Set(all.filter { $0.weights == "f32" && $0.reference != nil }.map(\.name)) == [
      "vit_tiny", "vit_gap", "vit_features", "deit_tiny", "deit_distilled", "dinov2_small", "dinov2_reg",
      "lambda_vit_shrunk", "hf_vit", "hf_dinov2", "swin_tiny",
    ])
  }

  @Test(arguments: CompiledFixture.artifacts)
  func compilingGivesTheCommittedArtifact(fixture: CompiledFixture) throws {
    let committed = Paths.runtime.appendingPathComponent(fixture.artifact!).path
    let out = Paths.temporary("identity-" + fixture.artifact!)
    _ = try Compiler.compile(Paths.repository(fixture.checkpoint), to: out, options: try fixture.options())
    let fresh = [UInt8](try #require(FileManager.default.contents(atPath: out)))
    let expected = [UInt8](try #require(FileManager.default.contents(atPath: committed)))
    let firstDifference = (0..<min(fresh.count, expected.count)).first { fresh[$0] != expected[$0] } ?? min(fresh.count, expected.count)
    let same = fresh == expected  // (not inside #expect: it would print both files)
    #expect(same, "\(fixture): \(fresh.count) bytes against \(expected.count) committed, first difference at byte \(firstDifference)")
    #expect(expected.count == fixture.bytes && SHA256.hex(expected) == fixture.sha256, "\(fixture): index.json is stale")

    guard let reference = fixture.reference else { return }
    let model = try Model(path: out)
    let x = try NPY.read(path: Paths.repository(fixture.input!))
    let y = try NPY.read(path: Paths.repository(reference))
    let got = try model.run(x.values, batch: x.shape[0])
    #expect([x.shape[0], model.outputWidth] == y.shape)
    let (cosine, rel) = agreement(got, y.values)
    if fixture.weights == "f32" {
      #expect(cosine >= 0.99999, "\(fixture): cosine \(cosine)")
      #expect(rel <= 1e-4, "\(fixture): relative L2 \(rel)")
    } else {
      #expect(cosine >= 0.9995, "\(fixture): cosine \(cosine) with f16 weights")
    }
  }
}

/// The compiler's numbers do not depend on the CPU's kernels: calibrating and compiling one small
/// model with EAM_KERNELS=scalar, avx2 and avx512 (each this CPU supports) gives the same
/// `.eamstats` and `.eam` bytes.
@Suite struct SameArtifactOnEveryVariant {
  /// `eamc ARGUMENTS` with EAM_KERNELS=variant; the exit status and stderr.
  func eamc(_ variant: KernelVariant, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try CLIRun.tool("eamc"))
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(["EAM_KERNELS": variant.name]) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    let err = Pipe()
    process.standardError = err
    try process.run()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stderr)
  }

  @Test func calibrationAndEAMArtifact() throws {
    let dir = CLIRun.folder("variants")
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = CLIRun.path("Tests/Fixtures/models/vit_tiny.safetensors"), calib = CLIRun.path("examples/images/calib")
    var files: [(KernelVariant, [UInt8], [UInt8])] = []
    for v in KernelVariant.allCases where v.isSupported {
      let stats = dir.appendingPathComponent("\(v.name).eamstats").path, eam = dir.appendingPathComponent("\(v.name).eam").path
      let c = try eamc(v, ["calibrate", model, "--heads", "2", "--calib", calib, "-o", stats, "-q"])
      try #require(c.status == 0, "\(v.name): eamc calibrate: \(c.stderr)")
      let e = try eamc(v, ["compile", model, "--heads", "2", "--stats", stats, "--sparsity", "0.3", "--attn-bits", "2",
                           "-o", eam])
      try #require(e.status == 0, "\(v.name): eamc compile: \(e.stderr)")
      files.append((v, [UInt8](try #require(FileManager.default.contents(atPath: stats))),
                    [UInt8](try #require(FileManager.default.contents(atPath: eam)))))
    }
    for (v, stats, eam) in files.dropFirst() {
      let s = stats == files[0].1, a = eam == files[0].2  // (not inside #expect: it would print the files)
      #expect(s, "\(v.name): .eamstats differs from \(files[0].0.name)'s (\(stats.count) against \(files[0].1.count) bytes)")
      #expect(a, "\(v.name): .eam differs from \(files[0].0.name)'s (\(eam.count) against \(files[0].2.count) bytes)")
    }
  }
}
