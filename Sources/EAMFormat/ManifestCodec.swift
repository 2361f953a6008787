/// The manifest's wire codec: the runtime's own decoder everywhere (`ManifestDecoder`); the
/// compiler encodes with protobuf-c, whose decoder the tests compare against.
public enum ManifestCodec {
  /// Caps on what a manifest may describe.
  static let maxBlocks = 4096
  static let maxRepeated = 1 << 20

  public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> Manifest {
    try ManifestDecoder.decode(bytes)
  }
}

#if !hasFeature(Embedded)
import CEAMFormat
import CProtobufC
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("ManifestCodec: the protobuf-c encoder needs a C library (Glibc or Darwin)")
#endif

extension ManifestCodec {

  public static func encode(_ m: Manifest) -> [UInt8] {
    let arena = CArena()
    defer { arena.release() }
    var msg = Eam__V1__Manifest()
    eam__v1__manifest__init(&msg)

    let producer = arena.new(Eam__V1__Producer.self, eam__v1__producer__init)
    producer.pointee.name = arena.string(m.producer.name)
    producer.pointee.version = arena.string(m.producer.version)
    msg.producer = producer

    let a = m.architecture
    let arch = arena.new(Eam__V1__Architecture.self, eam__v1__architecture__init)
    arch.pointee.family = Eam__V1__Family(rawValue: a.family.rawValue)
    arch.pointee.image_size = UInt32(a.imageSize)
    arch.pointee.patch_size = UInt32(a.patchSize)
    arch.pointee.in_channels = UInt32(a.inChannels)
    arch.pointee.embed_dim = UInt32(a.embedDim)
    arch.pointee.depth = UInt32(a.depth)
    arch.pointee.mlp_hidden = UInt32(a.mlpHidden)
    arch.pointee.class_tokens = UInt32(a.classTokens)
    arch.pointee.distillation_tokens = UInt32(a.distillationTokens)
    arch.pointee.register_tokens = UInt32(a.registerTokens)
    arch.pointee.pos_embed_covers_prefix = a.posEmbedCoversPrefix ? 1 : 0
    arch.pointee.norm_eps = a.normEps
    arch.pointee.layer_scale = a.layerScale ? 1 : 0
    arch.pointee.num_classes = UInt32(a.numClasses)
    arch.pointee.pooling = Eam__V1__Pooling(rawValue: a.pooling.rawValue)
    arch.pointee.fc_norm = a.fcNorm ? 1 : 0
    arch.pointee.qkv_bias = a.qkvBias ? 1 : 0
    arch.pointee.window_size = UInt32(a.windowSize)
    (arch.pointee.n_stage_depths, arch.pointee.stage_depths) = arena.array(a.stageDepths.map { UInt32($0) })
    (arch.pointee.n_stage_heads, arch.pointee.stage_heads) = arena.array(a.stageHeads.map { UInt32($0) })
    arch.pointee.patch_norm = a.patchNorm ? 1 : 0
    msg.architecture = arch

    let p = m.preprocessing
    let pre = arena.new(Eam__V1__Preprocessing.self, eam__v1__preprocessing__init)
    pre.pointee.resize_shorter_side = UInt32(p.resizeShorterSide)
    pre.pointee.crop_size = UInt32(p.cropSize)
    (pre.pointee.n_mean, pre.pointee.mean) = arena.array(p.mean)
    (pre.pointee.n_std, pre.pointee.std) = arena.array(p.std)
    pre.pointee.interpolation = Eam__V1__Interpolation(rawValue: p.interpolation.rawValue)
    msg.preprocessing = pre

    let blocks = m.blocks.map { b -> UnsafeMutablePointer<Eam__V1__Block>? in
      let c = arena.new(Eam__V1__Block.self, eam__v1__block__init)
      c.pointee.index = UInt32(b.index)
      c.pointee.heads = UInt32(b.heads)
      c.pointee.dim = UInt32(b.dim)
      c.pointee.mlp_hidden = UInt32(b.mlpHidden)
      c.pointee.attention_removed = b.attentionRemoved ? 1 : 0
      let frozen = b.frozen.map { f -> UnsafeMutablePointer<Eam__V1__FrozenMap>? in
        let cf = arena.new(Eam__V1__FrozenMap.self, eam__v1__frozen_map__init)
        cf.pointee.head = UInt32(f.head)
        cf.pointee.frozen_entries = UInt32(f.frozenEntries)
        cf.pointee.bits = UInt32(f.bits)
        cf.pointee.scale = f.scale
        cf.pointee.mask_section = arena.string(f.maskSection)
        cf.pointee.values_section = arena.string(f.valuesSection)
        cf.pointee.whole_head = f.wholeHead ? 1 : 0
        return cf
      }
      (c.pointee.n_frozen, c.pointee.frozen) = arena.array(frozen)
      c.pointee.frozen_fraction = b.frozenFraction
      c.pointee.stage = UInt32(b.stage)
      c.pointee.window_size = UInt32(b.windowSize)
      c.pointee.shift_size = UInt32(b.shiftSize)
      c.pointee.merge_before = b.mergeBefore ? 1 : 0
      c.pointee.resolution = UInt32(b.resolution)
      c.pointee.residual = Eam__V1__Residual(rawValue: b.residual == .unknown ? 0 : b.residual.rawValue)
      c.pointee.mlp_rank = UInt32(b.mlpRank)
      let hallucinated = b.hallucinated.map { h -> UnsafeMutablePointer<Eam__V1__HallucinatedHead>? in
        let ch = arena.new(Eam__V1__HallucinatedHead.self, eam__v1__hallucinated_head__init)
        ch.pointee.head = UInt32(h.head)
        (ch.pointee.n_sources, ch.pointee.sources) = arena.array(h.sources.map { UInt32($0) })
        (ch.pointee.n_weights, ch.pointee.weights) = arena.array(h.weights)
        ch.pointee.intercept = h.intercept
        return ch
      }
      (c.pointee.n_hallucinated, c.pointee.hallucinated) = arena.array(hallucinated)
      return c
    }
    (msg.n_blocks, msg.blocks) = arena.array(blocks)

    let weights = m.weights.map { w -> UnsafeMutablePointer<Eam__V1__Weight>? in
      let c = arena.new(Eam__V1__Weight.self, eam__v1__weight__init)
      c.pointee.name = arena.string(w.name)
      c.pointee.type = Eam__V1__WeightType(rawValue: w.type.rawValue)
      c.pointee.scale_section = arena.string(w.scaleSection)
      c.pointee.sums_section = arena.string(w.sumsSection)
      c.pointee.group_size = UInt32(w.groupSize)
      c.pointee.activation = Eam__V1__ActivationQuant(rawValue: w.activation == .unknown ? 0 : w.activation.rawValue)
      c.pointee.activation_min = w.activationMin
      c.pointee.activation_max = w.activationMax
      return c
    }
    (msg.n_weights, msg.weights) = arena.array(weights)

    let compile = arena.new(Eam__V1__CompileSettings.self, eam__v1__compile_settings__init)
    (compile.pointee.n_arguments, compile.pointee.arguments) = arena.array(m.compile.arguments.map { arena.string($0) })
    compile.pointee.source_name = arena.string(m.compile.sourceName)
    compile.pointee.source_format = arena.string(m.compile.sourceFormat)
    compile.pointee.source_sha256 = arena.string(m.compile.sourceSHA256)
    msg.compile = compile

    let calibration = arena.new(Eam__V1__Calibration.self, eam__v1__calibration__init)
    calibration.pointee.images = UInt32(m.calibration.images)
    calibration.pointee.set_sha256 = arena.string(m.calibration.setSHA256)
    (calibration.pointee.n_image_sha256, calibration.pointee.image_sha256) = arena.array(m.calibration.imageSHA256.map { arena.string($0) })
    msg.calibration = calibration

    let entropy = m.entropy.map { e -> UnsafeMutablePointer<Eam__V1__EntropyTable>? in
      let c = arena.new(Eam__V1__EntropyTable.self, eam__v1__entropy_table__init)
      c.pointee.block = UInt32(e.block)
      (c.pointee.n_head_entropy, c.pointee.head_entropy) = arena.array(e.headEntropy)
      (c.pointee.n_frozen_fraction, c.pointee.frozen_fraction) = arena.array(e.frozenFraction)
      return c
    }
    (msg.n_entropy, msg.entropy) = arena.array(entropy)

    let size = eam__v1__manifest__get_packed_size(&msg)
    var out = [UInt8](repeating: 0, count: size)
    let written = out.withUnsafeMutableBufferPointer { eam__v1__manifest__pack(&msg, $0.baseAddress) }
    precondition(written == size, "protobuf-c packed \(written) of \(size) bytes")
    return out
  }

  /// protobuf-c's reading of the same bytes, for tests that compare it with `decode`.
  public static func decodeWithProtobufC(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> Manifest {
    guard bytes.count > 0 else { throw FormatError(.invalid, "manifest is empty") }
    guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
      throw FormatError(.invalid, "manifest is empty")
    }
    guard let msg = eam__v1__manifest__unpack(nil, bytes.count, base) else {
      throw FormatError(.invalid, "manifest is not a valid eam.v1.Manifest protobuf")
    }
    defer { eam__v1__manifest__free_unpacked(msg, nil) }
    let c = msg.pointee
    guard c.n_blocks <= maxBlocks else { throw FormatError(.invalid, "manifest has \(c.n_blocks) blocks (at most \(maxBlocks))") }
    var m = Manifest()
    if let p = c.producer {
      m.producer = .init(name: string(p.pointee.name), version: string(p.pointee.version))
    }
    if let ap = c.architecture {
      let x = ap.pointee
      var a = Manifest.Architecture()
      a.family = Manifest.Family(rawValue: x.family.rawValue) ?? .unspecified
      a.imageSize = Int(x.image_size)
      a.patchSize = Int(x.patch_size)
      a.inChannels = Int(x.in_channels)
      a.embedDim = Int(x.embed_dim)
      a.depth = Int(x.depth)
      a.mlpHidden = Int(x.mlp_hidden)
      a.classTokens = Int(x.class_tokens)
      a.distillationTokens = Int(x.distillation_tokens)
      a.registerTokens = Int(x.register_tokens)
      a.posEmbedCoversPrefix = x.pos_embed_covers_prefix != 0
      a.normEps = x.norm_eps
      a.layerScale = x.layer_scale != 0
      a.numClasses = Int(x.num_classes)
      a.pooling = Manifest.Pooling(rawValue: x.pooling.rawValue) ?? .unspecified
      a.fcNorm = x.fc_norm != 0
      a.qkvBias = x.qkv_bias != 0
      a.windowSize = Int(x.window_size)
      a.stageDepths = try array(x.stage_depths, x.n_stage_depths).map { Int($0) }
      a.stageHeads = try array(x.stage_heads, x.n_stage_heads).map { Int($0) }
      a.patchNorm = x.patch_norm != 0
      m.architecture = a
    }
    if let pp = c.preprocessing {
      let x = pp.pointee
      var p = Manifest.Preprocessing()
      p.resizeShorterSide = Int(x.resize_shorter_side)
      p.cropSize = Int(x.crop_size)
      p.mean = try array(x.mean, x.n_mean)
      p.std = try array(x.std, x.n_std)
      p.interpolation = Manifest.Interpolation(rawValue: x.interpolation.rawValue) ?? .unspecified
      m.preprocessing = p
    }
    for bp in try array(c.blocks, c.n_blocks) {
      guard let x = bp?.pointee else { continue }
      var b = Manifest.Block()
      b.index = Int(x.index)
      b.heads = Int(x.heads)
      b.dim = Int(x.dim)
      b.mlpHidden = Int(x.mlp_hidden)
      b.attentionRemoved = x.attention_removed != 0
      for fp in try array(x.frozen, x.n_frozen) {
        guard let y = fp?.pointee else { continue }
        var f = Manifest.FrozenMap()
        f.head = Int(y.head)
        f.frozenEntries = Int(y.frozen_entries)
        f.bits = Int(y.bits)
        f.scale = y.scale
        f.maskSection = string(y.mask_section)
        f.valuesSection = string(y.values_section)
        f.wholeHead = y.whole_head != 0
        b.frozen.append(f)
      }
      b.frozenFraction = x.frozen_fraction
      b.stage = Int(x.stage)
      b.windowSize = Int(x.window_size)
      b.shiftSize = Int(x.shift_size)
      b.mergeBefore = x.merge_before != 0
      b.resolution = Int(x.resolution)
      b.residual = Manifest.Residual(rawValue: x.residual.rawValue) ?? .unknown
      b.mlpRank = Int(x.mlp_rank)
      for hp in try array(x.hallucinated, x.n_hallucinated) {
        guard let y = hp?.pointee else { continue }
        var h = Manifest.HallucinatedHead()
        h.head = Int(y.head)
        h.sources = try array(y.sources, y.n_sources).map { Int($0) }
        h.weights = try array(y.weights, y.n_weights)
        h.intercept = y.intercept
        b.hallucinated.append(h)
      }
      m.blocks.append(b)
    }
    for wp in try array(c.weights, c.n_weights) {
      guard let y = wp?.pointee else { continue }
      m.weights.append(.init(name: string(y.name), type: Manifest.WeightType(rawValue: y.type.rawValue) ?? .unspecified,
                             scaleSection: string(y.scale_section), sumsSection: string(y.sums_section),
                             groupSize: Int(y.group_size),
                             activation: Manifest.ActivationQuant(rawValue: y.activation.rawValue) ?? .unknown,
                             activationMin: y.activation_min, activationMax: y.activation_max))
    }
    if let cp = c.compile {
      let x = cp.pointee
      m.compile.arguments = try array(x.arguments, x.n_arguments).map { string($0) }
      m.compile.sourceName = string(x.source_name)
      m.compile.sourceFormat = string(x.source_format)
      m.compile.sourceSHA256 = string(x.source_sha256)
    }
    if let cp = c.calibration {
      m.calibration.images = Int(cp.pointee.images)
      m.calibration.setSHA256 = string(cp.pointee.set_sha256)
      m.calibration.imageSHA256 = try array(cp.pointee.image_sha256, cp.pointee.n_image_sha256).map { string($0) }
    }
    for ep in try array(c.entropy, c.n_entropy) {
      guard let y = ep?.pointee else { continue }
      var e = Manifest.EntropyTable()
      e.block = Int(y.block)
      e.headEntropy = try array(y.head_entropy, y.n_head_entropy)
      e.frozenFraction = try array(y.frozen_fraction, y.n_frozen_fraction)
      m.entropy.append(e)
    }
    return m
  }

  private static func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
  }

  private static func array<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) throws(FormatError) -> [T] {
    guard let p, n > 0 else { return [] }
    guard n <= maxRepeated else { throw FormatError(.invalid, "manifest has a list of \(n) items (at most \(maxRepeated))") }
    return Array(UnsafeBufferPointer(start: p, count: n))
  }
}

/// C allocations made while building a protobuf-c message, freed together after packing.
private final class CArena {
  private var pointers: [UnsafeMutableRawPointer] = []
  private var strings: [UnsafeMutablePointer<CChar>] = []

  func new<T>(_: T.Type, _ initialise: (UnsafeMutablePointer<T>?) -> Void) -> UnsafeMutablePointer<T> {
    let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
    initialise(p)
    pointers.append(UnsafeMutableRawPointer(p))
    return p
  }

  func string(_ s: String) -> UnsafeMutablePointer<CChar> {
    let p = strdup(s)!
    strings.append(p)
    return p
  }

  func array<T>(_ values: [T]) -> (Int, UnsafeMutablePointer<T>?) {
    guard !values.isEmpty else { return (0, nil) }
    let p = UnsafeMutablePointer<T>.allocate(capacity: values.count)
    p.initialize(from: values, count: values.count)
    pointers.append(UnsafeMutableRawPointer(p))
    return (values.count, p)
  }

  func release() {
    for p in pointers { p.deallocate() }
    for p in strings { free(p) }
    pointers.removeAll()
    strings.removeAll()
  }
}
#endif
