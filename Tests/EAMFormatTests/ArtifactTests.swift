import Testing
@testable import EAMFormat

/// A small artifact with one section of each kind the compiler writes.
func sampleArtifact() throws -> (bytes: [UInt8], sections: [SectionPayload], manifest: Manifest) {
  var m = Manifest()
  m.producer = .init(name: "eamc", version: "test")
  m.architecture.family = .dinov2
  m.architecture.imageSize = 28
  m.architecture.patchSize = 14
  m.architecture.embedDim = 8
  m.architecture.depth = 1
  m.architecture.stageDepths = [1]
  m.preprocessing.mean = [0.485, 0.456, 0.406]
  var b = Manifest.Block()
  b.index = 0
  b.heads = 2
  var f = Manifest.FrozenMap()
  f.head = 1
  f.bits = 2
  f.maskSection = "blocks.0.attn.frozen.1.mask"
  b.frozen = [f]
  m.blocks = [b]
  m.weights = [.init(name: "w", type: .f32)]
  m.compile.arguments = ["--weights=f32"]
  let floats = (0..<300).map { Float($0) * 0.25 - 7 }
  let sections = [
    SectionPayload(name: "pos_embed", shape: [1, 5, 60], floats: floats),
    SectionPayload(name: "w", dtype: .f32, shape: [3, 4], layout: .panelPacked,
                   bytes: [UInt8](repeating: 7, count: 16 * 4 * 4)),
    SectionPayload(name: "codes", dtype: .u8, shape: [1000], compression: .zstd,
                   bytes: (0..<1000).map { UInt8($0 % 4) }),
    SectionPayload(name: "empty", dtype: .f32, shape: [0], bytes: []),
  ]
  return (try ArtifactWriter.encode(manifest: m, sections: sections), sections, m)
}

func open(_ bytes: [UInt8]) throws(FormatError) -> Artifact {
  // The artifact owns an aligned copy (it used to be a copy that was never freed: LeakSanitizer).
  try Artifact(bytes: bytes, name: "test.eam")
}

@Test func crc32cCheckValue() {
  #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
}

@Test func roundTripGivesIdenticalSectionsAndManifest() throws {
  let (bytes, sections, manifest) = try sampleArtifact()
  let a = try open(bytes)
  #expect(a.manifest == manifest)
  #expect(a.sections.map(\.name) == sections.map(\.name))
  for s in sections {
    let info = try #require(a.section(s.name))
    #expect(info.offset % 64 == 0)
    #expect(info.shape == s.shape && info.dtype == s.dtype && info.layout == s.layout)
    #expect(try a.rawBytes(info) == s.bytes)
  }
  #expect(a.section("codes")!.storedLength < 1000)
  try a.verifyAll()
}

@Test func sameInputGivesSameBytes() throws {
  #expect(try sampleArtifact().bytes == sampleArtifact().bytes)
}

@Test func refusesNewerMajorVersionSayingWhatItReads() throws {
  var bytes = try sampleArtifact().bytes
  bytes[8] = 2
  #expect {
    _ = try open(bytes)
  } throws: { error in
    let e = error as! FormatError
    return e.kind == .unsupportedVersion && e.description.contains("reads version 1")
  }
}

@Test func acceptsNewerMinorVersion() throws {
  var bytes = try sampleArtifact().bytes
  bytes[10] = 7
  // The minor version is covered by the metadata checksum: recompute it as a newer writer would.
  let header = try Header.decode(bytes.withUnsafeBytes { $0 })
  var crc = CRC32C.checksum(Array(bytes[0..<56]))
  crc = CRC32C.checksum(Array(bytes[64..<(Int(header.manifestOffset + header.manifestLength))]), continuing: crc)
  for i in 0..<4 { bytes[56 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
  let a = try open(bytes)
  #expect(a.header.minor == 7)
}

@Test func refusesTruncationAnywhere() throws {
  let bytes = try sampleArtifact().bytes
  for cut in stride(from: 0, to: bytes.count, by: 7) {
    #expect(throws: FormatError.self) { _ = try open(Array(bytes[0..<cut])) }
  }
}

@Test func refusesEveryFlippedByteInHeaderTableAndManifest() throws {
  let bytes = try sampleArtifact().bytes
  let a = try open(bytes)
  let metadataEnd = Int(a.header.manifestOffset + a.header.manifestLength)
  for i in 0..<metadataEnd {
    var damaged = bytes
    damaged[i] ^= 0x10
    #expect(throws: FormatError.self, "flip at \(i)") { _ = try open(damaged) }
  }
}

@Test func refusesFlippedByteInEverySection() throws {
  let bytes = try sampleArtifact().bytes
  let a = try open(bytes)
  for s in a.sections where s.storedLength > 0 {
    for i in [s.offset, s.offset + s.storedLength / 2, s.offset + s.storedLength - 1] {
      var damaged = bytes
      damaged[i] ^= 0x01
      let d = try open(damaged)  // metadata intact: opens
      #expect {
        _ = try d.rawBytes(d.section(s.name)!)
      } throws: { error in
        let e = error as! FormatError
        return e.kind == .sectionChecksum && e.description == "test.eam: section '\(s.name)' checksum mismatch"
      }
    }
  }
}

@Test func refusesJunk() {
  #expect(throws: FormatError.self) { _ = try open([]) }
  #expect(throws: FormatError.self) { _ = try open(Array("not an artifact at all, just some text....".utf8) + [UInt8](repeating: 0, count: 100)) }
}

@Test func panelPackedSizeIncludesPadding() {
  #expect(Layout.panelPacked.storedElements(shape: [17, 3]) == 32 * 3)
  #expect(Layout.rowMajor.storedElements(shape: [17, 3]) == 51)
  #expect(Layout.rowMajor.storedElements(shape: [Int.max, 3]) == nil)
}

/// zstd is stored only where it makes a section smaller: a section of random bytes asked for
/// zstd is stored as it is (and reads back the same), a repetitive one is compressed.
@Test func compressesOnlyWhenSmaller() throws {
  var rng = SplitMix64(seed: 0x5EC7)
  let random = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
  let repetitive = (0..<4096).map { UInt8($0 % 4) }
  let (_, _, manifest) = try sampleArtifact()
  let bytes = try ArtifactWriter.encode(manifest: manifest, sections: [
    SectionPayload(name: "random", dtype: .u8, shape: [4096], compression: .zstd, bytes: random),
    SectionPayload(name: "repetitive", dtype: .u8, shape: [4096], compression: .zstd, bytes: repetitive),
  ])
  let a = try open(bytes)
  let r = try #require(a.section("random")), p = try #require(a.section("repetitive"))
  #expect(r.compression == .none && r.storedLength == 4096)
  #expect(p.compression == .zstd && p.storedLength < 4096)
  #expect(try a.rawBytes(r, verify: true) == random)
  #expect(try a.rawBytes(p, verify: true) == repetitive)
}

/// A small deterministic generator for test data (SplitMix64).
fileprivate struct SplitMix64 {
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
