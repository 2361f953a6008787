import Foundation
import Testing
import EAMCompiler

/// A test-only pass that changes nothing: it records how many frozen maps the model it got has,
/// and counts its runs (the compiled model and each control go through it).
struct NotePass: CompilerPass {
  final class Runs { var count = 0 }
  let runs = Runs()
  let name = "note"
  let needsStatistics = false

  func apply(_ model: ModelDescription, _ context: inout PassContext) throws(CompileError) -> ModelDescription {
    runs.count += 1
    context.record.settings = [("frozen_maps_seen", .int(model.frozenMaps.count))]
    context.record.notes = ["Note: a pass that changes nothing saw \(model.frozenMaps.count) frozen maps."]
    return model
  }
}

/// The pass pipeline's seam: a pass registered after the ones the options select runs after them,
/// and its record reaches the report, without any change to the other passes or their output.
@Suite struct PassPipeline {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let checkpoint = root.appendingPathComponent("Tests/Fixtures/models/dinov2_small.safetensors").path

  static func temporary(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-pipeline-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
  }

  static func read(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

  static func object(_ path: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(read(path))) as? [String: Any])
  }

  @Test func aPassRegisteredAfterEAMRunsAfterItAndItsRecordReachesTheReport() throws {
    var o = CompileOptions()
    o.overrides.heads = 2
    o.threads = 2
    o.calibration.progress = false
    var e = EAMOptions()
    e.sparsity = 0.3
    o.eam = e
    o.calibrationImages = try ImageFolder.list(Self.root.appendingPathComponent("examples/images/calib").path)
    o.evalImages = try ImageFolder.list(Self.root.appendingPathComponent("examples/images/eval").path)

    let plain = Self.temporary("eam.eam"), noted = Self.temporary("eam-note.eam")
    _ = try Compiler.compile(Self.checkpoint, to: plain, options: o)
    let note = NotePass()
    let passes = Pipeline.passes(for: o) + [note]
    #expect(passes.map(\.name) == ["eam", "note"])
    let summary = try Compiler.compile(Self.checkpoint, to: noted, options: o, passes: passes)

    // It ran after EAM: it saw EAM's frozen maps; the artifact is the one without it.
    let frozenMaps = summary.model.frozenMaps.count
    #expect(frozenMaps > 0)
    guard case .int(let seen)? = summary.report?.pass("note")?.setting("frozen_maps_seen") else {
      Issue.record("the report has no record of the note pass")
      return
    }
    #expect(seen == frozenMaps)
    let sameArtifact = Self.read(plain) == Self.read(noted)
    #expect(sameArtifact)
    // The controls (plain entropy, std and random) went through it too; only the compile's own
    // record is kept.
    #expect(note.runs.count == 4)

    // The report: its section right after EAM's, its note among the method notes; everything
    // else as without the pass.
    let text = String(decoding: Self.read(Self.temporary("eam-note.report.json")), as: UTF8.self)
    let eam = try #require(text.range(of: "\"eam\": {")), section = try #require(text.range(of: "\"note\": {"))
    let sizes = try #require(text.range(of: "\"sizes\": {"))
    #expect(eam.lowerBound < section.lowerBound && section.lowerBound < sizes.lowerBound)
    var with = try Self.object(Self.temporary("eam-note.report.json"))
    var without = try Self.object(Self.temporary("eam.report.json"))
    let record = try #require(with.removeValue(forKey: "note") as? [String: Any])
    #expect(record["frozen_maps_seen"] as? Int == frozenMaps)
    var notes = try #require(with["method_notes"] as? [String])
    let withoutNotes = try #require(without["method_notes"] as? [String])
    #expect(notes.count == withoutNotes.count + 1 && notes[notes.count - 2].hasPrefix("Note: "))
    notes.remove(at: notes.count - 2)
    #expect(notes == withoutNotes)
    // Wall-clock durations differ from run to run.
    for key in ["artifact", "method_notes", "durations_s"] {
      with.removeValue(forKey: key)
      without.removeValue(forKey: key)
    }
    #expect(NSDictionary(dictionary: with).isEqual(to: without))
  }

  @Test func aPassWithoutStatisticsNeedsNoCalibration() throws {
    var o = CompileOptions()
    o.overrides.heads = 2
    let float = Self.temporary("float.eam"), noted = Self.temporary("float-note.eam")
    _ = try Compiler.compile(Self.checkpoint, to: float, options: o)
    let summary = try Compiler.compile(Self.checkpoint, to: noted, options: o, passes: [NotePass()])
    let sameArtifact = Self.read(float) == Self.read(noted)
    #expect(sameArtifact)
    let report = try #require(summary.report)
    #expect(report.passes.map(\.name) == ["note"])
    #expect(report.calibrationImages == 0 && report.headEntropy.isEmpty && report.fidelity.isEmpty)
    let json = try Self.object(Self.temporary("float-note.report.json"))
    #expect(json["eam"] == nil && json["note"] != nil)
  }
}
