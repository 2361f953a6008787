import Foundation
import Testing
@testable import EAMIngest

/// Hostile input: disallowed globals never run, damaged files give one-line errors.
@Suite struct SafetyTests {
  static let malicious = Fixtures.section("malicious").keys.sorted()

  @Test(arguments: malicious)
  func maliciousPicklesAreRefused(_ name: String) throws {
    let info = try #require(Fixtures.section("malicious")[name] as? [String: Any])
    let global = try #require(info["global"] as? String)
    let canary = try #require(info["canary"] as? String)
    try? FileManager.default.removeItem(atPath: canary)
    do {
      let ck = try CheckpointReader.read(path: Fixtures.path(name))
      #expect(ck.names.isEmpty, "\(name) yielded weights \(ck.names)")
    } catch {
      #expect(error.description.contains(global), "\(error)")
      #expect(error.description.contains("not allowed"), "\(error)")
    }
    #expect(!FileManager.default.fileExists(atPath: canary))
  }

  /// Every fixture cut short at many offsets fails with an IngestError (never traps).
  @Test(arguments: Fixtures.all)
  func truncationNeverCrashes(_ name: String) {
    let bytes = Fixtures.bytes(name)
    var cuts = Set(0..<min(bytes.count, 80))
    let step = max(1, bytes.count / 97)
    cuts.formUnion(stride(from: 0, to: bytes.count, by: step))
    cuts.formUnion((1...min(bytes.count, 40)).map { bytes.count - $0 })
    for cut in cuts.sorted() {
      do {
        _ = try CheckpointReader.read(bytes: Array(bytes[0..<cut]))
        Issue.record("\(name) truncated to \(cut) of \(bytes.count) bytes was accepted")
      } catch {
        #expect(!error.description.isEmpty)
      }
    }
  }

  /// Bytes overwritten with junk: an error or a result, but never a trap.
  @Test(arguments: Fixtures.all.filter { !$0.hasPrefix("evil") })
  func corruptionNeverCrashes(_ name: String) {
    let original = Fixtures.bytes(name)
    var rng = SplitMix64(seed: UInt64(original.count))
    let rounds = Int(ProcessInfo.processInfo.environment["EAM_FUZZ_ROUNDS"] ?? "") ?? 40
    for _ in 0..<rounds {
      var bytes = original
      for _ in 0..<4 where !bytes.isEmpty {
        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
      }
      _ = try? CheckpointReader.read(bytes: bytes)
    }
  }

  @Test func junkAndEmpty() {
    #expect(throws: IngestError.self) { try CheckpointReader.read(bytes: []) }
    #expect(throws: IngestError.self) { try CheckpointReader.read(bytes: Array("hello world, not a model".utf8)) }
    #expect(throws: IngestError.self) { try CheckpointReader.read(path: "/nonexistent/model.pth") }
  }

  @Test func oversizedSafetensorsHeaderInMemory() {
    var bytes: [UInt8] = []
    let n: UInt64 = 1 << 62
    for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
    bytes += Array("{}".utf8)
    do {
      _ = try CheckpointReader.read(bytes: bytes)
      Issue.record("accepted")
    } catch {
      #expect(error.description.contains("exceeds the file size"))
    }
  }

  /// Ranks are capped at 64 (NumPy's and PyTorch's limit), before anything else is checked.
  @Test func rankIsCapped() {
    func safetensors(rank: Int) -> [UInt8] {
      let shape = [String](repeating: "1", count: rank).joined(separator: ",")
      var header = Array(#"{"t":{"dtype":"F32","shape":[\#(shape)],"data_offsets":[0,4]}}"#.utf8)
      while header.count % 8 != 0 { header.append(0x20) }
      return (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header + [0, 0, 128, 63]
    }
    #expect((try? CheckpointReader.read(bytes: safetensors(rank: 64)))?.tensors["t"]?.values == [1])
    #expect {
      try CheckpointReader.read(bytes: safetensors(rank: 65))
    } throws: { error in
      "\(error)".contains("65 dimensions (at most 64)")
    }
  }

  /// A pickle nesting lists a million deep is refused without exhausting the stack.
  @Test func deepNestingIsCapped() {
    var bytes: [UInt8] = [0x80, 2]
    for _ in 0..<100_000 { bytes += [0x5D, 0x94] }  // EMPTY_LIST, MEMOIZE
    for _ in 0..<99_999 { bytes.append(0x61) }  // APPEND
    bytes.append(0x2E)
    #expect(throws: IngestError.self) { try CheckpointReader.read(bytes: bytes) }
    var marks: [UInt8] = [0x80, 2]
    marks += [UInt8](repeating: 0x28, count: 100_000)
    marks.append(0x2E)
    #expect(throws: IngestError.self) { try CheckpointReader.read(bytes: marks) }
  }

  /// A chain nested top-down (each new list appended to the previous one after that one was
  /// itself stored) is released without deep recursion.
  @Test func topDownChainIsReleasedSafely() {
    var bytes: [UInt8] = [0x80, 4, 0x5D, 0x94, 0x30]  // L0 = [], memo 0, POP
    for i in 1...200_000 {
      let previous = UInt32(i - 1)
      bytes.append(0x6A)  // LONG_BINGET previous
      for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: previous >> (8 * UInt32(k)))) }
      bytes += [0x5D, 0x94, 0x61, 0x30]  // EMPTY_LIST, MEMOIZE, APPEND, POP
    }
    bytes += [0x6A, 0, 0, 0, 0, 0x2E]  // LONG_BINGET 0, STOP
    #expect(throws: IngestError.self) { try CheckpointReader.read(bytes: bytes) }
  }

  /// A self-referencing list (memo cycle) is harmless.
  @Test func cyclesAreHarmless() {
    // PROTO 2, EMPTY_DICT, MEMOIZE, 'a', GET 0, SETITEM, STOP  → d = {}; d['a'] = d
    let bytes: [UInt8] = [0x80, 2, 0x7D, 0x94, 0x8C, 1, 0x61, 0x68, 0, 0x73, 0x2E]
    #expect(throws: IngestError.self) { try CheckpointReader.read(bytes: bytes) }
  }
}

/// A small deterministic generator so corruption runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
