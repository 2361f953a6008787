import Foundation
import Testing
@testable import EAMFormat
import EAMRuntime

/// Issue 16, "never trust a checksummed lie": one committed artifact with one manifest value
/// moved out of its domain, checksums recomputed. Each is refused at load with one line naming
/// the file (`Outcome.refused`), never a trap.
@Suite struct ManifestDomains {
  nonisolated(unsafe) static let vit = Result { try Baseline("vit_tiny.eam") }
  nonisolated(unsafe) static let frozen = Result { try Baseline("dinov2_small.eam30.eam") }
  nonisolated(unsafe) static let swin = Result { try Baseline("swin_tiny.eam") }

  func expectRefused(_ outcome: Outcome, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .refused(let line) = outcome else {
      Issue.record("expected a refusal mentioning '\(words)', got \(outcome)", sourceLocation: sourceLocation)
      return
    }
    #expect(line.contains(words), "\(line)", sourceLocation: sourceLocation)
  }

  /// Appends `bytes` to the body of the first top-level field `field` (or of the last, `last`).
  static func append(_ bytes: [UInt8], toField field: Int, last: Bool = false) -> (inout [(field: Int, body: [UInt8])]) -> Void {
    { fields in
      let matching = fields.indices.filter { fields[$0].field == field }
      guard let i = last ? matching.last : matching.first else { return }
      fields[i].body += bytes
    }
  }

  @Test func unchangedRebuildRunsBitIdentically() throws {
    for baseline in [try Self.vit.get(), try Self.frozen.get(), try Self.swin.get()] {
      let outcome = try baseline.outcome()
      #expect(outcome == .output(baseline.reference), "\(baseline.fixture): \(outcome)")
    }
  }

  // Enums out of range (the decoder maps them to unspecified/unknown; validation refuses those).
  @Test func familyOutOfRange() throws {
    expectRefused(try Self.vit.get().outcome(wire: Self.append(Rebuild.varintField(1, 99), toField: 2)), "family")
  }

  @Test func poolingOutOfRange() throws {
    expectRefused(try Self.vit.get().outcome(wire: Self.append(Rebuild.varintField(15, 9), toField: 2)), "pooling")
  }

  @Test func interpolationOutOfRange() throws {
    expectRefused(try Self.vit.get().outcome(wire: Self.append(Rebuild.varintField(5, 7), toField: 3)), "interpolation")
  }

  @Test func residualOutOfRange() throws {
    expectRefused(try Self.vit.get().outcome(wire: Self.append(Rebuild.varintField(13, 7), toField: 4, last: true)), "residual")
  }

  @Test func weightTypeOutOfRange() throws {
    expectRefused(try Self.vit.get().outcome(wire: Self.append(Rebuild.varintField(2, 9), toField: 5)), "type")
  }

  @Test func classTokenPoolingWithoutClassToken() throws {
    let b = try Self.vit.get()
    expectRefused(try b.outcome { $0.architecture.classTokens = 0 }, "class-token pooling")
  }

  @Test(arguments: [Float.nan, -1e-6, .infinity, -.infinity, 1e30, 0, 0.5])
  func normEpsilonOutOfDomain(_ eps: Float) throws {
    expectRefused(try Self.vit.get().outcome { $0.architecture.normEps = eps }, "epsilon")
  }

  @Test func hugeImageWithPatchOneIsOverflowChecked() throws {
    var a = Manifest.Architecture()
    a.imageSize = Int(UInt32.max)
    a.patchSize = 1
    #expect(a.patchTokens == Int.max / 4)  // saturates, no trap
    _ = a.prefixTokens + a.patchTokens
    expectRefused(try Self.vit.get().outcome { $0.architecture.imageSize = Int(UInt32.max); $0.architecture.patchSize = 1 }, "image size")
  }

  @Test func patchSizeZeroOrNotDividing() throws {
    let b = try Self.vit.get()
    expectRefused(try b.outcome { $0.architecture.patchSize = 0 }, "patch size")
    expectRefused(try b.outcome { $0.architecture.patchSize = b.manifest.architecture.patchSize + 1 }, "patch size")
  }

  @Test func depthZeroOrInconsistent() throws {
    let b = try Self.vit.get()
    expectRefused(try b.outcome { $0.architecture.depth = 0; $0.blocks = [] }, "depth")
    expectRefused(try b.outcome { $0.architecture.depth += 1 }, "depth")
  }

  @Test func headsZeroOrNotDividingTheWidth() throws {
    let b = try Self.vit.get()
    expectRefused(try b.outcome { $0.blocks[0].heads = 0 }, "heads")
    expectRefused(try b.outcome { $0.blocks[0].heads = b.manifest.blocks[0].dim + 1 }, "heads")
    expectRefused(try b.outcome { $0.blocks[0].heads = 5 }, "heads")  // 64 % 5 ≠ 0
    expectRefused(try b.outcome { $0.blocks[0].dim = 0 }, "width")
    expectRefused(try b.outcome { $0.architecture.embedDim = 0 }, "width")
  }

  @Test func swinStageListsInconsistent() throws {
    let b = try Self.swin.get()
    expectRefused(try b.outcome { $0.architecture.stageDepths = [] }, "stages")
    expectRefused(try b.outcome { $0.architecture.stageDepths[0] += 1 }, "stages")
    expectRefused(try b.outcome { $0.architecture.stageHeads.append(1) }, "stages")
    expectRefused(try b.outcome { $0.architecture.stageDepths = [1, 1, 1, 1, 0] }, "stages")
    expectRefused(try b.outcome { $0.blocks[1].windowSize = 0 }, "window")
  }

  @Test(arguments: [0, 9, 32, 255])
  func frozenBitsOutOfRange(_ bits: Int) throws {
    expectRefused(try Self.frozen.get().outcome { $0.blocks[0].frozen[0].bits = bits }, "bits")
  }

  @Test(arguments: [Float.nan, .infinity, -0.1, -0.0000001, 1e30, 0.5])
  func frozenScaleOutOfDomain(_ scale: Float) throws {
    // 2-bit codes: code 3 × 0.5 = 1.5 is no probability; 1e30 would overflow.
    expectRefused(try Self.frozen.get().outcome { $0.blocks[0].frozen[0].scale = scale }, "scale")
  }

  /// Every code at its largest (3) and scale 1/3: each frozen entry is 1, so a row with two frozen
  /// entries sums to 2. Found from the decoded values at load.
  @Test func frozenRowSummingPastOne() throws {
    let b = try Self.frozen.get()
    let f = b.manifest.blocks[0].frozen[0]
    var sections = b.sections
    let i = try #require(sections.firstIndex { $0.name == f.valuesSection })
    sections[i].bytes = [UInt8](repeating: 0xFF, count: sections[i].bytes.count)
    var m = b.manifest
    m.blocks[0].frozen[0].scale = 1 / 3
    let outcome = b.outcome(try Rebuild.bytes(m, sections: sections))
    expectRefused(outcome, "sum to")
  }

  /// A block's heads decode in parallel at load: with its first and last frozen heads broken
  /// (rows summing past 1), the refusal names the first, as one thread would, on any number of
  /// threads, and the unbroken artifact gives the same bits on each.
  @Test(arguments: [1, 2, 3, 4])
  func firstBrokenHeadIsNamedOnAnyThreadCount(threads: Int) throws {
    let b = try Self.frozen.get()
    let heads = b.manifest.blocks[0].frozen
    try #require(heads.count >= 2)
    var sections = b.sections
    var m = b.manifest
    for k in [0, heads.count - 1] {
      let i = try #require(sections.firstIndex { $0.name == heads[k].valuesSection })
      sections[i].bytes = [UInt8](repeating: 0xFF, count: sections[i].bytes.count)
      m.blocks[0].frozen[k].scale = 1 / 3
    }
    expectRefused(b.outcome(try Rebuild.bytes(m, sections: sections), threads: threads), "block 0 head \(heads[0].head): ")
    #expect(b.outcome(try Rebuild.bytes(b.manifest, sections: b.sections), threads: threads) == .output(b.reference))
  }

  @Test func frozenEntriesAndHeadOutOfRange() throws {
    let b = try Self.frozen.get()
    let t = b.manifest.architecture.prefixTokens + b.manifest.architecture.patchTokens
    expectRefused(try b.outcome { $0.blocks[0].frozen[0].frozenEntries = t * t + 1 }, "frozen entries")
    expectRefused(try b.outcome { $0.blocks[0].frozen[0].frozenEntries = 0 }, "frozen entries")
    expectRefused(try b.outcome { $0.blocks[0].frozen[0].head = b.manifest.blocks[0].heads }, "head")
    expectRefused(try b.outcome { $0.blocks[0].frozen[1].head = $0.blocks[0].frozen[0].head }, "head")
  }

  /// The small Swin with a frozen map on block 1 (shifted, window 4: 16×16 entries) head 0 whose
  /// mask section holds `maskEntries` bits, the first `marked` set, and whose manifest says
  /// `claimed` entries (2-bit codes, all 1, scale 0.01).
  static func swinFrozen(maskEntries: Int, marked: Int, claimed: Int) throws -> (Baseline, [UInt8]) {
    let b = try swin.get()
    var mask = [UInt8](repeating: 0, count: (maskEntries + 7) / 8)
    for i in 0..<marked { mask[i >> 3] |= 1 << UInt8(i & 7) }
    var f = Manifest.FrozenMap()
    f.head = 0
    f.frozenEntries = claimed
    f.bits = 2
    f.scale = 0.01
    f.maskSection = "blocks.1.attn.frozen.0.mask"
    f.valuesSection = "blocks.1.attn.frozen.0.values"
    f.wholeHead = claimed == 256
    var m = b.manifest
    m.blocks[1].frozen = [f]
    let sections = b.sections + [
      SectionPayload(name: f.maskSection, dtype: .u8, shape: [mask.count], bytes: mask),
      SectionPayload(name: f.valuesSection, dtype: .u8, shape: [(marked * 2 + 7) / 8],
                     bytes: [UInt8](repeating: 0x55, count: (marked * 2 + 7) / 8)),
    ]
    return (b, try Rebuild.bytes(m, sections: sections))
  }

  /// Swin's frozen maps are w²×w² (docs/FORMAT.md): a map sized for another token count is refused
  /// in one line, whichever of the manifest and the sections says so; the right size runs.
  @Test func swinFrozenMapOfTheWrongTokenCount() throws {
    let (b, valid) = try Self.swinFrozen(maskEntries: 256, marked: 100, claimed: 100)
    guard case .output(let out) = b.outcome(valid) else {
      Issue.record("a valid Swin frozen map was refused: \(b.outcome(valid))")
      return
    }
    #expect(out != b.reference && out.allSatisfy { $0.isFinite })
    // A mask for the first stage's 256 tokens (16×16 grid) instead of the 16 of a window.
    let (_, grid) = try Self.swinFrozen(maskEntries: 256 * 256, marked: 100, claimed: 100)
    expectRefused(b.outcome(grid), "expected 32 u8")
    let (_, tooMany) = try Self.swinFrozen(maskEntries: 256 * 256, marked: 300, claimed: 300)
    expectRefused(b.outcome(tooMany), "300 frozen entries of 256")
    let (_, notWhole) = try Self.swinFrozen(maskEntries: 256, marked: 100, claimed: 256)
    expectRefused(b.outcome(notWhole), "the manifest says 256")
  }

  @Test(arguments: [Float.nan, .infinity, 1e30, -0.5, 1.5])
  func frozenFractionOutOfDomain(_ fraction: Float) throws {
    expectRefused(try Self.frozen.get().outcome { $0.blocks[1].frozenFraction = fraction }, "frozen fraction")
  }

  @Test func preprocessingOutOfDomain() throws {
    let b = try Self.vit.get()
    expectRefused(try b.outcome { $0.preprocessing.resizeShorterSide = 0 }, "resize")
    expectRefused(try b.outcome { $0.preprocessing.resizeShorterSide = ManifestValidation.maxPreprocessingSide + 1 }, "resize")
    expectRefused(try b.outcome { $0.preprocessing.cropSize = 0 }, "crop")
    expectRefused(try b.outcome { $0.preprocessing.cropSize = $0.preprocessing.resizeShorterSide + 1 }, "crop")
    expectRefused(try b.outcome { $0.preprocessing.mean.removeLast() }, "means")
    expectRefused(try b.outcome { $0.preprocessing.std.append(1) }, "stds")
    expectRefused(try b.outcome { $0.preprocessing.std[1] = 0 }, "std")
    expectRefused(try b.outcome { $0.preprocessing.std[2] = .nan }, "std")
    expectRefused(try b.outcome { $0.preprocessing.mean[0] = .infinity }, "mean")
    expectRefused(try b.outcome { $0.preprocessing.std[0] = 1e-40 }, "std")  // (0 − mean)/std overflows
  }

  @Test func entropyTablesOutOfDomain() throws {
    let b = try Self.frozen.get()
    expectRefused(try b.outcome { $0.entropy[0].headEntropy[0] = .nan }, "entropy")
    expectRefused(try b.outcome { $0.entropy[0].block = 99 }, "entropy")
    expectRefused(try b.outcome { $0.entropy[0].frozenFraction[0] = 1e30 }, "entropy")
  }

  /// A section table entry whose shape makes 2^62 elements (or more): its byte count overflows or
  /// cannot lie in the file; refused when the table is read, before anything is allocated.
  @Test(arguments: [[Int64(1) << 62], [Int64(1) << 31, Int64(1) << 31], [Int64(1) << 62, 4]])
  func sectionElementCountsNearTwoToThe62(_ shape: [Int64]) throws {
    let b = try Self.vit.get()
    var bytes = try Rebuild.bytes(b.manifest, sections: b.sections)
    let entry = Header.size + 8  // the first entry of the table
    func put64(_ at: Int, _ v: UInt64) { for k in 0..<8 { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) } }
    let (count, overflow) = shape.reduce((Int64(1), false)) { acc, d in
      let (m, o) = acc.0.multipliedReportingOverflow(by: d)
      return (m, acc.1 || o)
    }
    put64(entry + 16, overflow ? UInt64.max : UInt64(count) &* 4)  // raw length (f32)
    bytes[entry + 28] = DType.f32.rawValue
    bytes[entry + 29] = Compression.zstd.rawValue
    bytes[entry + 30] = UInt8(shape.count)
    bytes[entry + 31] = Layout.rowMajor.rawValue
    for (k, d) in shape.enumerated() { put64(entry + 40 + 8 * k, UInt64(d)) }
    for k in shape.count..<SectionInfo.maxRank { put64(entry + 40 + 8 * k, 0) }
    let header = try bytes.withUnsafeBytes { try Header.decode($0) }
    let manifestEnd = Int(header.manifestOffset + header.manifestLength)
    var crc = CRC32C.checksum(Array(bytes[0..<56]))
    crc = CRC32C.checksum(Array(bytes[Header.size..<manifestEnd]), continuing: crc)
    for k in 0..<4 { bytes[56 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
    let outcome = b.outcome(bytes)
    #expect(outcome.isRefused, "\(outcome)")
  }
}
