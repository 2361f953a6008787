import Foundation
import Testing
@testable import EAMIngest

/// The stdlib-made hostile checkpoints of `scripts/make_hostile_fixtures.py`.
@Suite struct HostileTests {
  /// Refused with one line naming the file, containing the recorded fragment.
  @Test(arguments: Fixtures.hostileSection("refused").keys.sorted())
  func refused(_ name: String) throws {
    let fragment = try #require(Fixtures.hostileSection("refused")[name] as? String)
    #expect {
      _ = try CheckpointReader.read(path: Fixtures.path(name))
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix(Fixtures.path(name) + ": ") && text.contains(fragment) && !text.contains("\n")
    }
  }
}

/// The tensor budget: every container, before allocating.
@Suite struct TensorBudgetTests {
  /// An explicit limit applies to every container (zip, legacy, safetensors, npz, npy).
  @Test(arguments: ["torch_f32_bare.pth", "legacy_f32_bare.pt", "st_f32.safetensors", "np_f32.npz", "v1_f4.npy",
                    "numpy_f32_p4.pkl", "views.pth"])
  func explicitLimit(_ name: String) throws {
    let ck = try CheckpointReader.read(path: Fixtures.path(name))
    let bytes = ck.tensors.values.reduce(0) { $0 + 4 * $1.count }
    // Exactly enough is accepted; one value less is not.
    _ = try CheckpointReader.read(path: Fixtures.path(name), options: ReadOptions(maxTensorBytes: bytes))
    #expect {
      _ = try CheckpointReader.read(path: Fixtures.path(name), options: ReadOptions(maxTensorBytes: bytes - 4))
    } throws: { error in
      "\(error)".contains("past the maxTensorBytes limit of \(bytes - 4) bytes")
    }
  }

  /// The default: 4 bytes per file byte plus 4 MiB, saturating instead of overflowing.
  @Test func defaultBudget() {
    #expect(ReadOptions.defaultTensorBytes(fileSize: 1000) == 4000 + 4 * 1024 * 1024)
    #expect(ReadOptions.defaultTensorBytes(fileSize: Int.max / 2) == Int.max)
    #expect(ReadOptions.defaultTensorBytes(fileSize: -5) == 4 * 1024 * 1024)
  }
}

/// NaN and ±∞ in weights: refused by default, naming the tensor and its counts; read with a note
/// when allowed.
@Suite struct NonFiniteTests {
  @Test(arguments: Fixtures.hostileSection("nonfinite").keys.sorted())
  func refusedUnlessAllowed(_ name: String) throws {
    let info = try #require(Fixtures.hostileSection("nonfinite")[name] as? [String: Any])
    let tensor = try #require(info["tensor"] as? String)
    let nan = try #require(info["nan"] as? Int), infinite = try #require(info["infinite"] as? Int)
    let values = try #require(info["values"] as? Int), others = try #require(info["others"] as? Int)
    let fragment = "tensor '\(tensor)' has \(nan) NaN and \(infinite) infinite values of \(values)"
    #expect {
      _ = try CheckpointReader.read(path: Fixtures.path(name))
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix(Fixtures.path(name) + ": ") && text.contains(fragment) && !text.contains("\n")
        && text.contains(others > 0 ? "and \(others) more tensors" : "broken") && (others > 0 || !text.contains("more tensors"))
    }
    let ck = try CheckpointReader.read(path: Fixtures.path(name), options: ReadOptions(allowNonFinite: true))
    let counts = FiniteCheck.count(try #require(ck.tensors[tensor]).values)
    #expect(counts.nan == nan && counts.infinite == infinite)
    #expect(ck.notes.contains { $0.contains(fragment) }, "\(ck.notes)")
    #expect(ck.notes.count == 1 + others)
  }

  /// Every sound fixture has no note.
  @Test func soundCheckpointsHaveNoNotes() throws {
    for name in ["torch_f32_bare.pth", "legacy_f64_extras.pt", "st_bf16.safetensors", "np_f16.npz"] {
      #expect(try CheckpointReader.read(path: Fixtures.path(name)).notes.isEmpty)
    }
  }
}

/// The branch-free scan finds a NaN or ±∞ at every position, and nothing in finite extremes.
@Test func nonFiniteScanFindsEveryPosition() {
  let specials: [Float] = [.nan, .infinity, -.infinity, Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0xFF80_0001)]
  let finite: [Float] = [0, -0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1]
  for n in 1...9 {
    #expect(!FiniteCheck.anyNonFinite((0..<n).map { finite[$0 % finite.count] }))
    for position in 0..<n {
      for s in specials {
        var values = (0..<n).map { finite[$0 % finite.count] }
        values[position] = s
        #expect(FiniteCheck.anyNonFinite(values), "n \(n) position \(position) \(s.bitPattern)")
      }
    }
  }
  #expect(!FiniteCheck.anyNonFinite([]))
}

/// Zip members whose headers lie (CRC-32, extents, local headers): one line naming the member.
@Suite struct ZipLieTests {
  @Test(arguments: Fixtures.hostileSection("zip_lies").keys.sorted())
  func refused(_ name: String) throws {
    let fragment = try #require(Fixtures.hostileSection("zip_lies")[name] as? String)
    #expect {
      _ = try CheckpointReader.read(path: Fixtures.path(name))
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix(Fixtures.path(name) + ": ") && text.contains(fragment) && !text.contains("\n")
    }
  }

  /// The check value of CRC-32 (ISO-HDLC), and every length around the 8-byte steps.
  @Test func crc32() {
    let text = Array("123456789".utf8)
    #expect(CRC32.checksum(text, range: 0..<9) == 0xCBF4_3926)
    #expect(CRC32.checksum([], range: 0..<0) == 0)
    // Against a bit-at-a-time reference.
    func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
      var crc: UInt32 = 0xFFFF_FFFF
      for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
      }
      return crc ^ 0xFFFF_FFFF
    }
    let bytes = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    for start in 0..<9 {
      for end in start...bytes.count {
        #expect(CRC32.checksum(bytes, range: start..<end) == reference(bytes[start..<end]))
      }
    }
  }
}

/// Live payloads (globals Python's unpickler would call): refused wherever the pickle names them,
/// naming the global; read with the payload inert when allowed. Nothing ever runs.
@Suite struct UnsafePickleTests {
  @Test(arguments: Fixtures.hostileSection("unsafe").keys.sorted())
  func refusedUnlessAllowed(_ name: String) throws {
    let info = try #require(Fixtures.hostileSection("unsafe")[name] as? [String: Any])
    let global = try #require(info["global"] as? String)
    let names = try #require(info["names"] as? [String])
    let canaryPrefix = try #require(info["canary_prefix"] as? String)
    #expect {
      _ = try CheckpointReader.read(path: Fixtures.path(name))
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix(Fixtures.path(name) + ": ") && text.contains("refers to global '\(global)', which is not allowed")
        && !text.contains("\n")
    }
    let ck = try CheckpointReader.read(path: Fixtures.path(name), options: ReadOptions(allowUnsafePickle: true))
    #expect(ck.names == names)
    #expect(ck.notes.contains { $0.contains("unsafe globals") && $0.contains("'\(global)'") }, "\(ck.notes)")
    // Nothing ran: no canary anywhere.
    let tmp = (canaryPrefix as NSString).deletingLastPathComponent
    let base = (canaryPrefix as NSString).lastPathComponent
    let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp))?.filter { $0.hasPrefix(base) } ?? []
    #expect(left.isEmpty, "\(left)")
  }

  /// Benign globals real checkpoints carry are kept inert with a note, not refused.
  @Test(arguments: Fixtures.hostileSection("benign").keys.sorted())
  func benignGlobalsAreNoted(_ name: String) throws {
    let info = try #require(Fixtures.hostileSection("benign")[name] as? [String: Any])
    let ck = try CheckpointReader.read(path: Fixtures.path(name))
    #expect(ck.names == (info["names"] as? [String]))
    let notes = ck.notes.joined(separator: "\n")
    for g in info["inert"] as? [String] ?? [] { #expect(notes.contains("'\(g)'"), "\(notes)") }
    #expect(!notes.contains("argparse"), "argparse.Namespace is interpreted, not inert: \(notes)")
  }

  /// The rules, global by global (module, name, refused?).
  @Test(arguments: [
    ("builtins", "eval", true), ("__builtin__", "exec", true), ("builtins", "getattr", true), ("builtins", "__import__", true),
    ("builtins", "dict", false), ("builtins", "set", false), ("builtins", "print", false),
    ("os", "system", true), ("posix", "system", true), ("nt", "system", true), ("os.path", "join", true),
    ("subprocess", "Popen", true), ("commands", "getoutput", true), ("sys", "modules", true), ("shutil", "rmtree", true),
    ("socket", "socket", true), ("importlib", "import_module", true), ("runpy", "run_path", true), ("pty", "spawn", true),
    ("webbrowser", "open", true), ("pickle", "loads", true), ("_pickle", "loads", true), ("cPickle", "loads", true),
    ("torch._utils", "_rebuild_tensor_v2", false), ("torch._utils", "_rebuild_qtensor", false),
    ("torch._utils", "_import_dotted_name", true), ("torch._utils", "_set_obj_state", true),
    ("torch", "load", true), ("torch.serialization", "load", true), ("torch.storage", "_load_from_bytes", true),
    ("torch.hub", "load", true), ("torch.fx.graph_module", "reduce_graph_module", true),
    ("torch", "FloatStorage", false), ("torch.nn.modules.linear", "Linear", false),
    ("torch.serialization", "os.system", true), ("numpy", "os.system", true), ("collections", "OrderedDict.__init__.__globals__", true),
    ("operator", "attrgetter", true), ("operator", "add", false), ("codecs", "open", true), ("_codecs", "encode", false),
    ("numpy", "load", true), ("numpy.core.multiarray", "_reconstruct", false), ("numpy", "dtype", false),
    ("pathlib", "PosixPath", false), ("pathlib", "Path.unlink", true), ("argparse", "Namespace", false),
    ("__main__", "TrainConfig", false), ("collections", "OrderedDict", false), ("copyreg", "_reconstructor", false),
  ])
  func rules(_ module: String, _ name: String, _ refused: Bool) {
    let g = PGlobal(module: module, name: name, opcode: Opcode.global, offset: 0)
    #expect((UnsafeGlobals.reason(g) != nil) == refused, "\(module).\(name): \(UnsafeGlobals.reason(g) ?? "allowed")")
  }
}
