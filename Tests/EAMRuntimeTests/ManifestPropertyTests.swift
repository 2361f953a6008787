import Foundation
import Testing
import EAMFormat
import EAMRuntime

/// Random manifests, in and out of every field's domain, on committed artifacts whose checksums
/// are then recomputed (an attacker's rebuild): loading and running each must end in a one-line
/// error naming the file, or in an output; never a trap, a hang or an allocation past the budget.
///
/// A mutation is *neutral* when the runtime does not read the field to compute (producer, compile
/// settings, calibration, entropy tables, frozen fractions, preprocessing, a weight's scale
/// section, the architecture's MLP width, layer-scale and qkv-bias flags, and — on the ViT
/// family — every Swin-only field). A neutral mutation that loads must give the unmodified
/// artifact's output bit for bit. Any other mutation that loads may change the output (a
/// different epsilon is a different model) but must stay within the plan: the arena it allocates
/// and the weights it copies are the planned ones, under the budget.
@Suite struct ManifestProperty {
  /// SplitMix64: a fixed seed gives the same cases everywhere.
  struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
    mutating func bool() -> Bool { next() & 1 == 1 }

    /// An integer in or out of a field's domain around `value` (never beyond UInt32, the wire type).
    mutating func int(near value: Int) -> Int {
      switch below(4) {
      case 0: pick([0, 1, 2, 3, 4, 7, 8, 16, 255, 1024, 65535, 65536, 1 << 20, Int(Int32.max), Int(UInt32.max)])
      case 1: max(0, value + pick([-2, -1, 1, 2]))
      case 2: min(Int(UInt32.max), value * pick([2, 3, 16]))
      default: Int(next() & 0xFFFF_FFFF)
      }
    }

    mutating func float(near value: Float) -> Float {
      switch below(3) {
      case 0: pick([.nan, .infinity, -.infinity, 0, -0.0, -1, .leastNonzeroMagnitude, 1e-12, 1e-6, 0.01, 0.5, 1, 2, 1e30, .greatestFiniteMagnitude])
      case 1: value * pick([-1, 0.5, 1.0001, 2, 1000])
      default: Float(bitPattern: UInt32(truncatingIfNeeded: next()))
      }
    }
  }

  struct Mutation {
    let field: String
    let neutral: Bool
    let apply: (inout Manifest, inout Random) -> Void
  }

  static func mutations(swin: Bool) -> [Mutation] {
    func arch(_ name: String, neutral: Bool = false, _ f: @escaping (inout Manifest.Architecture, inout Random) -> Void) -> Mutation {
      Mutation(field: "architecture." + name, neutral: neutral) { m, r in f(&m.architecture, &r) }
    }
    func block(_ name: String, neutral: Bool = false, _ f: @escaping (inout Manifest.Block, inout Random) -> Void) -> Mutation {
      Mutation(field: "block." + name, neutral: neutral) { m, r in
        guard !m.blocks.isEmpty else { return }
        let i = r.below(m.blocks.count)
        f(&m.blocks[i], &r)
      }
    }
    func frozen(_ name: String, _ f: @escaping (inout Manifest.FrozenMap, inout Random) -> Void) -> Mutation {
      Mutation(field: "frozen." + name, neutral: false) { m, r in
        let withMaps = m.blocks.indices.filter { !m.blocks[$0].frozen.isEmpty }
        guard !withMaps.isEmpty else { return }
        let b = r.pick(withMaps)
        f(&m.blocks[b].frozen[r.below(m.blocks[b].frozen.count)], &r)
      }
    }
    func pre(_ name: String, _ f: @escaping (inout Manifest.Preprocessing, inout Random) -> Void) -> Mutation {
      Mutation(field: "preprocessing." + name, neutral: true) { m, r in f(&m.preprocessing, &r) }
    }
    return [
      Mutation(field: "producer", neutral: true) { m, r in m.producer.name = r.bool() ? "" : "x\(r.next())" },
      Mutation(field: "compile", neutral: true) { m, r in m.compile.arguments.append("--x=\(r.next())"); m.compile.sourceSHA256 = "" },
      Mutation(field: "calibration", neutral: true) { m, r in m.calibration.images = r.int(near: m.calibration.images) },
      Mutation(field: "entropy", neutral: true) { m, r in
        guard !m.entropy.isEmpty else { return }
        let i = r.below(m.entropy.count)
        if r.bool(), !m.entropy[i].headEntropy.isEmpty { m.entropy[i].headEntropy[0] = r.float(near: m.entropy[i].headEntropy[0]) }
        else { m.entropy[i].block = r.int(near: m.entropy[i].block) }
      },
      Mutation(field: "weights.scaleSection", neutral: true) { m, r in
        guard !m.weights.isEmpty else { return }
        m.weights[r.below(m.weights.count)].scaleSection = "s\(r.below(10))"
      },
      Mutation(field: "weights.type", neutral: false) { m, r in
        guard !m.weights.isEmpty else { return }
        m.weights[r.below(m.weights.count)].type = r.pick([.unspecified, .f32, .f16, .int8])
      },
      Mutation(field: "weights.name", neutral: false) { m, r in
        guard !m.weights.isEmpty else { return }
        m.weights[r.below(m.weights.count)].name = r.pick(["", "pos_embed", "x"])
      },
      arch("family") { a, r in a.family = r.pick([.unspecified, .vit, .deit, .deitDistilled, .dinov2, .swin]) },
      arch("imageSize") { a, r in a.imageSize = r.int(near: a.imageSize) },
      arch("patchSize") { a, r in a.patchSize = r.int(near: a.patchSize) },
      arch("inChannels") { a, r in a.inChannels = r.int(near: a.inChannels) },
      arch("embedDim") { a, r in a.embedDim = r.int(near: a.embedDim) },
      arch("depth") { a, r in a.depth = r.int(near: a.depth) },
      arch("mlpHidden", neutral: true) { a, r in a.mlpHidden = r.int(near: a.mlpHidden) },
      arch("classTokens") { a, r in a.classTokens = r.int(near: a.classTokens) },
      arch("distillationTokens") { a, r in a.distillationTokens = r.int(near: a.distillationTokens) },
      arch("registerTokens") { a, r in a.registerTokens = r.int(near: a.registerTokens) },
      arch("posEmbedCoversPrefix") { a, _ in a.posEmbedCoversPrefix.toggle() },
      arch("normEps") { a, r in a.normEps = r.float(near: a.normEps) },
      arch("layerScale", neutral: true) { a, _ in a.layerScale.toggle() },
      arch("numClasses") { a, r in a.numClasses = r.int(near: a.numClasses) },
      arch("pooling") { a, r in a.pooling = r.pick([.unspecified, .classToken, .meanPatch, .meanAll]) },
      arch("fcNorm") { a, _ in a.fcNorm.toggle() },
      arch("qkvBias", neutral: true) { a, _ in a.qkvBias.toggle() },
      arch("windowSize", neutral: !swin) { a, r in a.windowSize = r.int(near: a.windowSize) },
      arch("stageDepths", neutral: !swin) { a, r in
        if a.stageDepths.isEmpty || r.bool() { a.stageDepths.append(r.int(near: 1)) } else { a.stageDepths[0] = r.int(near: a.stageDepths[0]) }
      },
      arch("stageHeads", neutral: !swin) { a, r in a.stageHeads = r.bool() ? [] : a.stageHeads + [r.int(near: 2)] },
      arch("patchNorm", neutral: !swin) { a, _ in a.patchNorm.toggle() },
      block("index") { b, r in b.index = r.int(near: b.index) },
      block("heads") { b, r in b.heads = r.int(near: b.heads) },
      block("dim") { b, r in b.dim = r.int(near: b.dim) },
      block("mlpHidden") { b, r in b.mlpHidden = r.int(near: b.mlpHidden) },
      block("attentionRemoved") { b, _ in b.attentionRemoved.toggle() },
      block("residual") { b, r in b.residual = r.pick([.unspecified, .attention, .double, .identity, .unknown]) },
      block("frozenFraction", neutral: true) { b, r in b.frozenFraction = r.float(near: b.frozenFraction) },
      block("stage", neutral: !swin) { b, r in b.stage = r.int(near: b.stage) },
      block("windowSize", neutral: !swin) { b, r in b.windowSize = r.int(near: b.windowSize) },
      block("shiftSize", neutral: !swin) { b, r in b.shiftSize = r.int(near: b.shiftSize) },
      block("mergeBefore", neutral: !swin) { b, _ in b.mergeBefore.toggle() },
      block("resolution", neutral: !swin) { b, r in b.resolution = r.int(near: b.resolution) },
      frozen("head") { f, r in f.head = r.int(near: f.head) },
      frozen("frozenEntries") { f, r in f.frozenEntries = r.int(near: f.frozenEntries) },
      frozen("bits") { f, r in f.bits = r.int(near: f.bits) },
      frozen("scale") { f, r in f.scale = r.float(near: f.scale) },
      frozen("sections") { f, _ in swap(&f.maskSection, &f.valuesSection) },
      frozen("wholeHead") { f, _ in f.wholeHead.toggle() },
      pre("resize") { p, r in p.resizeShorterSide = r.int(near: p.resizeShorterSide) },
      pre("crop") { p, r in p.cropSize = r.int(near: p.cropSize) },
      pre("mean") { p, r in
        if r.bool() { p.mean = Array(p.mean.dropLast()) } else if !p.mean.isEmpty { p.mean[r.below(p.mean.count)] = r.float(near: 0.5) }
      },
      pre("std") { p, r in if r.bool() { p.std.append(1) } else if !p.std.isEmpty { p.std[r.below(p.std.count)] = r.float(near: 0.2) } },
      pre("interpolation") { p, r in p.interpolation = r.pick([.unspecified, .bicubic, .bilinear]) },
    ]
  }

  static let fixtures = ["vit_tiny.eam", "dinov2_small.eam30.eam", "deit_distilled.f16.eam", "swin_tiny.eam"]
  static let casesPerFixture = 500
  static let budget = 64 << 20

  @Test(arguments: fixtures)
  func randomManifestsAreRefusedOrRunWithinTheirPlan(name: String) throws {
    let baseline = try Baseline(name)
    let swin = baseline.manifest.architecture.family == .swin
    let mutations = Self.mutations(swin: swin)
    var random = Random(state: 0x16_16_16 &+ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF))
    var refused = 0, ran = 0, neutralSame = 0
    var refusedFields = Set<String>()
    let start = Date()
    for _ in 0..<Self.casesPerFixture {
      var m = baseline.manifest
      // One to three mutations; the case is neutral only if all of them are.
      var neutral = true, fields: [String] = []
      for _ in 0...random.below(3) {
        let mutation = random.pick(mutations)
        mutation.apply(&m, &random)
        neutral = neutral && mutation.neutral
        fields.append(mutation.field)
      }
      // Sometimes a raw varint field appended to the architecture (2) or preprocessing (3)
      // message: enums beyond their cases, wire types that do not match, unknown fields (these
      // are skipped: neutral).
      var wire: ((inout [(field: Int, body: [UInt8])]) -> Void)?
      if random.below(6) == 0 {
        let message = random.pick([2, 3]), field = random.below(message == 2 ? 26 : 8) + 1
        let any = random.next()
        let value = random.pick([0, 1, 5, 7, 99, UInt64(UInt32.max), any])
        let known = message == 2 ? field <= 21 : field <= 5
        neutral = neutral && !known
        fields.append("wire \(message).\(field)")
        wire = { top in
          if let i = top.firstIndex(where: { $0.field == message }) { top[i].body += Rebuild.varintField(field, value) }
        }
      }
      let bytes = try Rebuild.bytes(m, sections: baseline.sections, wire: wire)
      var withinPlan = true
      let outcome = baseline.outcome(bytes, budget: Self.budget) { model in
        let p = try? model.plannedMemory(batch: baseline.input.shape[0])
        withinPlan = p.map { model.arenaBytes == $0.arena + $0.scratch && model.copiedWeightBytes == $0.weightsCopied && $0.total <= Self.budget } ?? false
      }
      switch outcome {
      case .refused:
        refused += 1
        if fields.count == 1 { refusedFields.formUnion(fields) }
      case .output(let out):
        ran += 1
        #expect(withinPlan, "\(name) \(fields): allocated past its plan")
        if neutral {
          #expect(out == baseline.reference || bitDifference(out, baseline.reference) == nil, "\(name) \(fields): a neutral change changed the output")
          neutralSame += 1
        }
      case .bad(let line):
        Issue.record("\(name) \(fields): \(line)")
      }
    }
    let seconds = Date().timeIntervalSince(start)
    // Both kinds occur, and single out-of-domain values are refused in many fields.
    #expect(refused > Self.casesPerFixture / 4 && ran > 10 && neutralSame > 0, "\(name): \(refused) refused, \(ran) ran, \(neutralSame) neutral")
    #expect(refusedFields.count > 20, "\(name): refusals only from \(refusedFields.sorted())")
    #expect(seconds < 60, "\(name): \(seconds) s")
    print("ManifestProperty \(name): \(Self.casesPerFixture) cases, \(refused) refused, \(ran) ran (\(neutralSame) neutral, bit-identical), \(refusedFields.count) fields refused alone, \(String(format: "%.1f", seconds)) s")
  }
}
