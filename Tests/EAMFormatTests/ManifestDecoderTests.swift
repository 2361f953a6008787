import Testing
@testable import EAMFormat

/// The runtime's own manifest decoder against protobuf-c's, which writes the manifests.
@Suite struct ManifestDecoderAgreesWithProtobufC {
  /// A manifest with every field set to something other than its default, from `seed`.
  static func manifest(seed: UInt64) -> Manifest {
    var rng = SplitMix(seed)
    func n(_ limit: Int) -> Int { Int(rng.next() % UInt64(limit)) }
    func f() -> Float { Float(n(100_000)) / 1000 - 50 }
    func s() -> String { String((0..<n(12)).map { _ in "abcxyzé→0._".randomElement(using: &rng)! }) }
    var m = Manifest()
    m.producer = .init(name: s(), version: s())
    var a = Manifest.Architecture()
    a.family = Manifest.Family(rawValue: UInt32(n(6))) ?? .vit
    a.imageSize = n(1000); a.patchSize = n(32); a.inChannels = n(5); a.embedDim = n(2000); a.depth = n(40)
    a.mlpHidden = n(5000); a.classTokens = n(2); a.distillationTokens = n(2); a.registerTokens = n(9)
    a.posEmbedCoversPrefix = n(2) == 1; a.normEps = f(); a.layerScale = n(2) == 1; a.numClasses = n(2000)
    a.pooling = Manifest.Pooling(rawValue: UInt32(n(4))) ?? .classToken; a.fcNorm = n(2) == 1; a.qkvBias = n(2) == 1
    a.windowSize = n(12); a.stageDepths = (0..<n(5)).map { _ in n(20) }; a.stageHeads = (0..<n(5)).map { _ in n(30) }
    a.patchNorm = n(2) == 1
    m.architecture = a
    m.preprocessing.resizeShorterSide = n(600); m.preprocessing.cropSize = n(600)
    m.preprocessing.mean = (0..<n(4)).map { _ in f() }; m.preprocessing.std = (0..<n(4)).map { _ in f() }
    m.preprocessing.interpolation = n(2) == 0 ? .bicubic : .bilinear
    for i in 0..<n(6) {
      var b = Manifest.Block()
      b.index = i; b.heads = n(16); b.dim = n(2000); b.mlpHidden = n(6000); b.attentionRemoved = n(3) == 0
      b.residual = Manifest.Residual(rawValue: UInt32(n(4))) ?? .unspecified
      for _ in 0..<n(3) {
        var fm = Manifest.FrozenMap()
        fm.head = n(16); fm.frozenEntries = n(100_000); fm.bits = n(9); fm.scale = f()
        fm.maskSection = s(); fm.valuesSection = s(); fm.wholeHead = n(2) == 1
        b.frozen.append(fm)
      }
      b.frozenFraction = f(); b.stage = n(4); b.windowSize = n(12); b.shiftSize = n(6); b.mergeBefore = n(2) == 1
      b.resolution = n(64)
      m.blocks.append(b)
    }
    m.weights = (0..<n(5)).map { _ in
      Manifest.Weight(name: s(), type: Manifest.WeightType(rawValue: UInt32(n(5))) ?? .f32, scaleSection: s(),
                      sumsSection: s(), groupSize: n(129), activation: Manifest.ActivationQuant(rawValue: UInt32(n(3))) ?? .dynamic,
                      activationMin: f(), activationMax: f())
    }
    m.compile.arguments = (0..<n(5)).map { _ in s() }
    m.compile.sourceName = s(); m.compile.sourceFormat = s(); m.compile.sourceSHA256 = s()
    m.calibration.images = n(1000); m.calibration.setSHA256 = s()
    for i in 0..<n(4) {
      var e = Manifest.EntropyTable()
      e.block = i; e.headEntropy = (0..<n(7)).map { _ in f() }; e.frozenFraction = (0..<n(7)).map { _ in f() }
      m.entropy.append(e)
    }
    return m
  }

  @Test(arguments: 0..<64)
  func roundTrip(seed: Int) throws {
    let m = Self.manifest(seed: UInt64(seed))
    let bytes = ManifestCodec.encode(m)
    let ours = try bytes.withUnsafeBytes { raw throws(FormatError) in try ManifestCodec.decode(raw) }
    let theirs = try bytes.withUnsafeBytes { raw throws(FormatError) in try ManifestCodec.decodeWithProtobufC(raw) }
    #expect(ours == m)
    #expect(ours == theirs)
  }

  /// Mutated manifests (flipped, inserted and removed bytes): wherever protobuf-c reads a
  /// manifest, ours reads the same one; where ours refuses, the refusal is one line.
  @Test func mutationsDecodeAlikeOrAreRefused() throws {
    var rng = SplitMix(7)
    var agreed = 0, refusedByBoth = 0, refusedByOursOnly = 0
    for seed in 0..<40 {
      let base = ManifestCodec.encode(Self.manifest(seed: UInt64(1000 + seed)))
      for _ in 0..<100 {
        var bytes = base
        for _ in 0..<(1 + Int(rng.next() % 3)) where !bytes.isEmpty {
          let i = Int(rng.next() % UInt64(bytes.count))
          switch rng.next() % 3 {
          case 0: bytes[i] ^= UInt8(1 << (rng.next() % 8))
          case 1: bytes.insert(UInt8(rng.next() & 0xFF), at: i)
          default: bytes.remove(at: i)
          }
        }
        guard !bytes.isEmpty else { continue }
        let ours = bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try ManifestCodec.decode(raw) } }
        let theirs = bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try ManifestCodec.decodeWithProtobufC(raw) } }
        switch (ours, theirs) {
        case (.success(let a), .success(let b)):
          // Compared re-encoded: a mutated float may be NaN, which == never matches.
          #expect(ManifestCodec.encode(a) == ManifestCodec.encode(b), "seed \(seed): decoders disagree")
          agreed += 1
        case (.failure(let e), .failure):
          #expect(!e.description.contains("\n"))
          refusedByBoth += 1
        case (.failure(let e), .success):
          // Stricter than protobuf-c only where protobuf-c is lax: invalid UTF-8 in strings, and
          // bool fields that are not varints (protobuf-c reads any wire type there).
          #expect(e.message.contains("invalid UTF-8") || e.message.contains("a bool"),
                  "refused what protobuf-c reads: \(e.message)")
          refusedByOursOnly += 1
        case (.success, .failure(let e)):
          Issue.record("read what protobuf-c refuses (\(e.message))")
        }
      }
    }
    #expect(agreed > 100 && refusedByBoth > 100)
    _ = refusedByOursOnly
  }

  @Test func emptyAndTruncatedAreRefused() {
    let bytes = ManifestCodec.encode(Self.manifest(seed: 3))
    for cut in [0, 1, bytes.count / 2, bytes.count - 1] {
      let r = bytes.prefix(cut).withUnsafeBytes { raw in Result { () throws(FormatError) in try ManifestCodec.decode(raw) } }
      if cut == 0 {
        #expect((try? r.get()) == nil)
      } else if case .success = r {
        // A cut at a field boundary is a valid, shorter manifest; protobuf-c must agree.
        let c = bytes.prefix(cut).withUnsafeBytes { raw in try? ManifestCodec.decodeWithProtobufC(raw) }
        #expect(c == (try? r.get()))
      }
    }
  }
}

/// splitmix64, for reproducible test data.
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(_ seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
