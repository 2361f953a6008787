import EAMFormat
import FuzzModelSupport
import FuzzSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Structure-aware fuzzing of the manifest's validation: the input is not a file but a list of
/// edits to a seed artifact (`Mutations`). The seed's manifest (decoded into `Manifest`) and
/// sections are edited field by field, with values chosen by the input and biased to boundaries,
/// the manifest re-encoded (`ManifestCodec.encode`), the artifact rebuilt with valid checksums
/// (`ArtifactWriter.encode`), opened, loaded and run if small. Every mutation therefore reaches
/// the runtime's checks of the manifest against itself and the sections instead of stopping in
/// the protobuf decoder or a checksum.
///
/// The seed artifacts are the tiny models of fuzz-eam-model (`Fuzz/corpus/eam-model/seed-*`,
/// found from the working folder or the executable's; `EAM_FUZZ_MODELS` names another folder).
/// With `EAM_FUZZ_WRITE=path`, the rebuilt artifact of each input is written there (a finding
/// as an ordinary `.eam` file, for a regression test).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let seeds = Seeds.all
  guard !seeds.isEmpty else { return 0 }
  var input = Mutations(FuzzHarness.bytes(data, size))
  var seed = seeds[Int(input.byte()) % seeds.count]
  var edits = 0
  while !input.isEmpty && edits < 16 {
    input.apply(to: &seed)
    edits += 1
  }
  guard let bytes = try? ArtifactWriter.encode(manifest: seed.manifest, sections: seed.sections) else { return 0 }
  if let path = getenv("EAM_FUZZ_WRITE") { Seeds.save(bytes, to: String(cString: path)) }
  guard let artifact = try? Artifact(bytes: bytes, name: "fuzz.eam") else { return 0 }
  FuzzModel.loadAndRun(artifact)
  return 0
}

/// A seed artifact taken apart: its manifest and its sections as the writer takes them.
struct Seed {
  var manifest: Manifest
  var sections: [SectionPayload]
}

enum Seeds {
  nonisolated(unsafe) static let all: [Seed] = load()

  static func load() -> [Seed] {
    var folders: [String] = []
    if let env = getenv("EAM_FUZZ_MODELS") { folders.append(String(cString: env)) }
    folders.append("Fuzz/corpus/eam-model")
    // `.build(-fuzz)/<configuration>/fuzz-…` sits two folders below the package.
    if let tool = CommandLine.arguments.first, let slash = tool.lastIndex(of: "/") {
      folders.append(String(tool[..<slash]) + "/../../Fuzz/corpus/eam-model")
    }
    for folder in folders {
      let seeds = names(in: folder).compactMap { load(folder + "/" + $0) }
      if !seeds.isEmpty { return seeds }
    }
    let line = "fuzz-eam-manifest-structured: no seed artifacts (Fuzz/corpus/eam-model/seed-*; set EAM_FUZZ_MODELS)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
  }

  static func names(in folder: String) -> [String] {
    guard let dir = opendir(folder) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name.hasPrefix("seed-") && name.hasSuffix(".eam") { names.append(name) }
    }
    return names.sorted()
  }

  static func load(_ path: String) -> Seed? {
    guard let artifact = try? Artifact(path: path) else { return nil }
    var sections: [SectionPayload] = []
    for s in artifact.sections {
      guard let raw = try? artifact.rawBytes(s) else { return nil }
      sections.append(SectionPayload(name: s.name, dtype: s.dtype, shape: s.shape, layout: s.layout,
                                     compression: s.compression, bytes: raw))
    }
    return Seed(manifest: artifact.manifest, sections: sections)
  }

  static func save(_ bytes: [UInt8], to path: String) {
    guard let file = fopen(path, "wb") else { return }
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
  }
}

/// The fuzz input read as edits: one byte picks the seed, then each edit is an operation byte
/// followed by the bytes its choices take (zeros once the input is used up).
struct Mutations {
  private let bytes: [UInt8]
  private var at = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var isEmpty: Bool { at >= bytes.count }

  mutating func byte() -> UInt8 {
    guard at < bytes.count else { return 0 }
    defer { at += 1 }
    return bytes[at]
  }

  mutating func u32() -> UInt32 {
    (0..<4).reduce(UInt32(0)) { v, i in v | UInt32(byte()) << (8 * UInt32(i)) }
  }

  /// One of `count` choices (0 when there are none).
  mutating func pick(_ count: Int) -> Int { count > 0 ? Int(byte()) % count : 0 }

  /// Integers cross the wire as uint32: boundaries of sizes, powers of two and their neighbours,
  /// 2^31, 2^32 − 1 (what −1 becomes), the current value's neighbours, or 32 raw bits.
  static let integers: [Int] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 1023, 1024,
                                1025, 4095, 4096, 4097, 65535, 65536, 65537, 1 << 20, 1 << 24, (1 << 31) - 1, 1 << 31,
                                (1 << 32) - 1]

  mutating func integer(_ current: Int) -> Int {
    let c = UInt32(clamping: current)
    switch pick(Self.integers.count + 6) {
    case Self.integers.count: return Int(c &+ 1)
    case Self.integers.count + 1: return Int(c &- 1)
    case Self.integers.count + 2: return Int(c &* 2)
    case Self.integers.count + 3: return Int(c / 2)
    case Self.integers.count + 4: return Int(c &* 3 &+ 1)
    case Self.integers.count + 5: return Int(u32())
    case let i: return Self.integers[i]
    }
  }

  /// Floats: zeros, ones, NaN, ±∞, ±1e30, tiny (denormal and normal), the largest, or raw bits.
  static let floats: [Float] = [0, -0.0, 1, -1, 0.5, 2, 1e-6, 1e30, -1e30, 1e-30, .leastNonzeroMagnitude,
                                .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                .infinity, -.infinity, .nan, -.nan, .signalingNaN]

  mutating func float() -> Float {
    let i = pick(Self.floats.count + 1)
    return i < Self.floats.count ? Self.floats[i] : Float(bitPattern: u32())
  }

  /// A list's new length: empty, one, a neighbour of the old one, or up to 64.
  mutating func length(_ current: Int) -> Int {
    switch pick(6) {
    case 0: 0
    case 1: 1
    case 2: current + 1
    case 3: max(current - 1, 0)
    case 4: current * 2
    default: Int(byte()) % 65
    }
  }

  mutating func list(_ values: inout [Int]) {
    if pick(2) == 0 {
      let n = min(length(values.count), 64)
      values = (0..<n).map { $0 < values.count ? values[$0] : (values.last ?? 1) }
    } else if !values.isEmpty {
      let i = pick(values.count)
      values[i] = integer(values[i])
    }
  }

  mutating func list(_ values: inout [Float]) {
    if pick(2) == 0 {
      let n = min(length(values.count), 64)
      values = (0..<n).map { $0 < values.count ? values[$0] : (values.last ?? 1) }
    } else if !values.isEmpty {
      values[pick(values.count)] = float()
    }
  }

  /// A section name: one of the artifact's, empty, one that does not exist, or a near miss.
  mutating func sectionName(_ seed: Seed, current: String) -> String {
    switch pick(4) {
    case 0: ""
    case 1: "no-such-section"
    case 2: current + "x"
    default: seed.sections.isEmpty ? "" : seed.sections[pick(seed.sections.count)].name
    }
  }

  mutating func apply(to seed: inout Seed) {
    switch pick(10) {
    case 0: architecture(&seed.manifest.architecture)
    case 1: preprocessing(&seed.manifest.preprocessing)
    case 2:
      guard !seed.manifest.blocks.isEmpty else { return }
      let i = pick(seed.manifest.blocks.count)
      block(&seed.manifest.blocks[i])
    case 3: reorder(&seed.manifest.blocks, cap: 64)
    case 4:
      let maps = seed.manifest.blocks.indices.flatMap { b in seed.manifest.blocks[b].frozen.indices.map { (b, $0) } }
      guard !maps.isEmpty else { return }
      let (b, f) = maps[pick(maps.count)]
      var map = seed.manifest.blocks[b].frozen[f]
      frozenMap(&map, seed)
      seed.manifest.blocks[b].frozen[f] = map
    case 5:
      guard !seed.manifest.blocks.isEmpty else { return }
      let b = pick(seed.manifest.blocks.count)
      if pick(3) == 0, let map = seed.manifest.blocks[b].frozen.first {
        // A frozen map moved to (or repeated in) another block.
        seed.manifest.blocks[pick(seed.manifest.blocks.count)].frozen.append(map)
      } else {
        reorder(&seed.manifest.blocks[b].frozen, cap: 64)
      }
    case 6:
      guard !seed.manifest.weights.isEmpty else { return }
      let i = pick(seed.manifest.weights.count)
      var w = seed.manifest.weights[i]
      switch pick(4) {
      case 0: w.name = sectionName(seed, current: w.name)
      case 1: w.type = [.unspecified, .f32, .f16, .int8][pick(4)]
      case 2: w.scaleSection = sectionName(seed, current: w.scaleSection)
      default: reorder(&seed.manifest.weights, cap: 4096); return
      }
      seed.manifest.weights[i] = w
    case 7: section(&seed)
    case 8: contents(&seed)
    default: entropy(&seed.manifest)
    }
  }

  /// Removes, repeats or swaps elements of a list (at most `cap` long).
  mutating func reorder<T>(_ list: inout [T], cap: Int) {
    guard !list.isEmpty else { return }
    let i = pick(list.count), j = pick(list.count)
    switch pick(3) {
    case 0: list.remove(at: i)
    case 1: if list.count < cap { list.insert(list[i], at: j) }
    default: list.swapAt(i, j)
    }
  }

  mutating func architecture(_ a: inout Manifest.Architecture) {
    switch pick(20) {
    case 0: a.imageSize = integer(a.imageSize)
    case 1: a.patchSize = integer(a.patchSize)
    case 2: a.inChannels = integer(a.inChannels)
    case 3: a.embedDim = integer(a.embedDim)
    case 4: a.depth = integer(a.depth)
    case 5: a.mlpHidden = integer(a.mlpHidden)
    case 6: a.classTokens = integer(a.classTokens)
    case 7: a.distillationTokens = integer(a.distillationTokens)
    case 8: a.registerTokens = integer(a.registerTokens)
    case 9: a.numClasses = integer(a.numClasses)
    case 10: a.windowSize = integer(a.windowSize)
    case 11: a.normEps = float()
    case 12: a.family = [.unspecified, .vit, .deit, .deitDistilled, .dinov2, .swin][pick(6)]
    case 13: a.pooling = [.unspecified, .classToken, .meanPatch, .meanAll][pick(4)]
    case 14: a.posEmbedCoversPrefix.toggle()
    case 15: a.layerScale.toggle()
    case 16: a.fcNorm.toggle()
    case 17: a.qkvBias.toggle()
    case 18: list(&a.stageDepths)
    default: if pick(3) == 0 { a.patchNorm.toggle() } else { list(&a.stageHeads) }
    }
  }

  mutating func preprocessing(_ p: inout Manifest.Preprocessing) {
    switch pick(5) {
    case 0: p.resizeShorterSide = integer(p.resizeShorterSide)
    case 1: p.cropSize = integer(p.cropSize)
    case 2: list(&p.mean)
    case 3: list(&p.std)
    default: p.interpolation = [.unspecified, .bicubic, .bilinear][pick(3)]
    }
  }

  mutating func block(_ b: inout Manifest.Block) {
    switch pick(12) {
    case 0: b.index = integer(b.index)
    case 1: b.heads = integer(b.heads)
    case 2: b.dim = integer(b.dim)
    case 3: b.mlpHidden = integer(b.mlpHidden)
    case 4: b.attentionRemoved.toggle()
    case 5: b.residual = [.unspecified, .attention, .double, .identity, .unknown][pick(5)]
    case 6: b.frozenFraction = float()
    case 7: b.stage = integer(b.stage)
    case 8: b.windowSize = integer(b.windowSize)
    case 9: b.shiftSize = integer(b.shiftSize)
    case 10: b.mergeBefore.toggle()
    default: b.resolution = integer(b.resolution)
    }
  }

  mutating func frozenMap(_ f: inout Manifest.FrozenMap, _ seed: Seed) {
    switch pick(7) {
    case 0: f.head = integer(f.head)
    case 1: f.frozenEntries = integer(f.frozenEntries)
    case 2: f.bits = integer(f.bits)
    case 3: f.scale = float()
    case 4: f.maskSection = sectionName(seed, current: f.maskSection)
    case 5: f.valuesSection = sectionName(seed, current: f.valuesSection)
    default: f.wholeHead.toggle()
    }
  }

  mutating func entropy(_ m: inout Manifest) {
    guard !m.entropy.isEmpty else { return }
    let i = pick(m.entropy.count)
    switch pick(4) {
    case 0: m.entropy[i].block = integer(m.entropy[i].block)
    case 1: list(&m.entropy[i].headEntropy)
    case 2: list(&m.entropy[i].frozenFraction)
    default: reorder(&m.entropy, cap: 64)
    }
  }

  /// Largest section the edits make (so that one input cannot ask for gigabytes to be written).
  static let sectionBudget = 1 << 22

  /// Edits a section's table entry (name, type, shape, layout, compression) or removes, repeats
  /// it; the bytes are cut or zero-padded to what the new entry needs, so that the writer takes it.
  mutating func section(_ seed: inout Seed) {
    guard !seed.sections.isEmpty else { return }
    var i = pick(seed.sections.count)
    var s = seed.sections[i]
    switch pick(8) {
    case 0:
      s.name = sectionName(seed, current: s.name)
      guard !s.name.isEmpty, s.name != seed.sections[i].name else { return }
      // A name the artifact already has: the other section goes, this one takes its place.
      if let j = seed.sections.firstIndex(where: { $0.name == s.name }) {
        seed.sections.remove(at: j)
        if j < i { i -= 1 }
      }
    case 1: seed.sections.remove(at: i); return
    case 2: s.dtype = DType.allCases[pick(DType.allCases.count)]
    case 3:
      guard !s.shape.isEmpty else { return }
      let k = pick(s.shape.count)
      s.shape[k] = integer(s.shape[k])
    case 4:
      if pick(2) == 0, !s.shape.isEmpty { s.shape.remove(at: pick(s.shape.count)) }
      else if s.shape.count < SectionInfo.maxRank { s.shape.insert([1, 0, 2][pick(3)], at: pick(s.shape.count + 1)) }
    case 5: s.layout = s.layout == .rowMajor ? .panelPacked : .rowMajor
    case 6: s.compression = s.compression == .none ? .zstd : .none
    default:
      // Two shape dimensions swapped (a transposed weight of the same size).
      guard s.shape.count >= 2 else { return }
      s.shape.swapAt(pick(s.shape.count), pick(s.shape.count))
    }
    guard let elements = s.layout.storedElements(shape: s.shape) else { return }
    let (needed, overflow) = elements.multipliedReportingOverflow(by: s.dtype.size)
    guard !overflow, needed <= Self.sectionBudget else { return }
    if needed < s.bytes.count { s.bytes.removeLast(s.bytes.count - needed) }
    else { s.bytes += repeatElement(0, count: needed - s.bytes.count) }
    seed.sections[i] = s
  }

  /// Sets values inside a section: an f32 element to a chosen float (NaN, ∞, 1e30, ...), or a
  /// byte (mask bits, quantised values, f16 halves) to any value.
  mutating func contents(_ seed: inout Seed) {
    guard !seed.sections.isEmpty else { return }
    let i = pick(seed.sections.count)
    guard !seed.sections[i].bytes.isEmpty else { return }
    let at = Int(u32()) % seed.sections[i].bytes.count
    if seed.sections[i].dtype == .f32, seed.sections[i].bytes.count >= 4 {
      let k = min(at / 4 * 4, seed.sections[i].bytes.count - 4)
      let bits = float().bitPattern
      for j in 0..<4 { seed.sections[i].bytes[k + j] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(j))) }
    } else {
      seed.sections[i].bytes[at] = byte()
    }
  }
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
