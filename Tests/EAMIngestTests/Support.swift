import Foundation
import Testing
@testable import EAMIngest

/// Fixtures written by `scripts/make_ingest_fixtures.py`, and the expected values it recorded.
enum Fixtures {
  static let directory: URL = {
    guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
      fatalError("Fixtures resource missing")
    }
    return url
  }()

  static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  // Immutable after first use.
  nonisolated(unsafe) static let expected: [String: Any] = {
    guard let data = try? Data(contentsOf: directory.appendingPathComponent("expected.json")),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      fatalError("expected.json unreadable")
    }
    return object
  }()

  static func section(_ name: String) -> [String: Any] { expected[name] as? [String: Any] ?? [:] }

  /// Every fixture file name (except the expectations, expected.json and hostile.json).
  static var all: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
      .filter { !$0.hasSuffix(".json") }.sorted()
  }

  /// `scripts/make_hostile_fixtures.py`'s expectations.
  nonisolated(unsafe) static let hostile: [String: Any] = {
    guard let data = try? Data(contentsOf: directory.appendingPathComponent("hostile.json")),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      fatalError("hostile.json unreadable")
    }
    return object
  }()

  static func hostileSection(_ name: String) -> [String: Any] { hostile[name] as? [String: Any] ?? [:] }

  static func bytes(_ name: String) -> [UInt8] {
    (try? [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))) ?? []
  }
}

/// `{"shape": [...], "values": [...]}` from expected.json.
func expectedTensor(_ any: Any?) -> Tensor? {
  guard let d = any as? [String: Any], let shape = d["shape"] as? [Int],
        let values = d["values"] as? [Double] else { return nil }
  return Tensor(shape: shape, values: values.map { Float($0) })
}

/// Checks names (order) and exact values of a checkpoint against an expected `{names, tensors}`.
func expectTensors(_ ck: Checkpoint, _ expected: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) {
  let names = expected["names"] as? [String] ?? []
  let tensors = expected["tensors"] as? [String: Any] ?? [:]
  if ck.format == .safetensors {
    // safetensors headers list tensors in their own (sorted) order.
    #expect(ck.names.sorted() == names.sorted(), sourceLocation: sourceLocation)
  } else {
    #expect(ck.names == names, sourceLocation: sourceLocation)
  }
  for name in names {
    let want = expectedTensor(tensors[name])
    #expect(want != nil, sourceLocation: sourceLocation)
    #expect(ck.tensors[name] == want, "tensor \(name)", sourceLocation: sourceLocation)
  }
}
