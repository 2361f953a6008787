import Foundation
import Testing
import EAMFormat
import EAMRuntime

/// Damage a real compiled artifact (the committed dinov2_reg.eam) everywhere: every case is
/// refused with a FormatError or RuntimeError at load, or — where the damaged byte cannot matter
/// (alignment padding) — gives exactly the undamaged output. Never a crash, and never a silently
/// different answer.
@Suite struct CorruptionSweep {
  @Test func truncationsAndFlipsAreRefusedOrHarmless() throws {
    let fixture = try RuntimeFixture.named("dinov2_reg.eam")
    let original = [UInt8](try #require(FileManager.default.contents(atPath: fixture.path)))
    let x = try fixture.inputBatch()
    let reference = try Model(artifact: try Artifact(bytes: original, name: "ok")).run(x.values, batch: 2)

    func outcome(_ bytes: [UInt8]) -> String {
      do {
        let artifact = try Artifact(bytes: bytes, name: "damaged.eam")
        let model = try Model(artifact: artifact)
        return try model.run(x.values, batch: 2) == reference ? "same" : "DIFFERENT"
      } catch let e as FormatError {
        return e.description.hasPrefix("damaged.eam: ") ? "refused" : "BAD MESSAGE \(e)"
      } catch let e as RuntimeError {
        return e.description.hasPrefix("damaged.eam: ") ? "refused" : "BAD MESSAGE \(e)"
      } catch {
        return "UNEXPECTED \(error)"
      }
    }

    var counts: [String: Int] = [:]
    for cut in stride(from: 0, to: original.count, by: max(1, original.count / 300)) {
      counts[outcome(Array(original[0..<cut])), default: 0] += 1
    }
    let artifact = try Artifact(bytes: original, name: "ok")
    let metadataEnd = Int(artifact.header.manifestOffset + artifact.header.manifestLength)
    var positions = Array(0..<metadataEnd)
    for s in artifact.sections where s.storedLength > 0 {
      positions += [s.offset, s.offset + s.storedLength / 2, s.offset + s.storedLength - 1]
    }
    positions += [metadataEnd, artifact.sections[0].offset - 1]  // padding before the first section
    for p in positions {
      var damaged = original
      damaged[p] ^= 0x20
      counts[outcome(damaged), default: 0] += 1
    }
    #expect(counts.keys.allSatisfy { $0 == "refused" || $0 == "same" }, "\(counts)")
    #expect(counts["refused", default: 0] > 300)
  }
}
