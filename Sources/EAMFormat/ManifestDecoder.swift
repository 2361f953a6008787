/// Reads the manifest (`eam.v1.Manifest`, schemas/eam.proto) from protobuf wire bytes.
///
/// The runtime's own decoder, so that a device needs no protobuf library: the compiler writes
/// with protobuf-c (`ManifestCodec.encode`), and the tests check that this decoder and
/// protobuf-c's agree. Unknown fields are skipped, repeated scalars are read packed or not, and a
/// field present twice keeps the last value (messages merge), as protobuf specifies. Groups,
/// malformed varints, lengths past the end, wire types that do not match the field, invalid
/// UTF-8 and lists over the caps are refused (protobuf-c reads the last two kinds of bool and
/// string fields where this decoder refuses them).
enum ManifestDecoder {
  static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> Manifest {
    guard bytes.count > 0 else { throw FormatError(.invalid, "manifest is empty") }
    var r = WireReader(bytes)
    var m = Manifest()
    var blocks = 0
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: try r.message(wire) { (r: inout WireReader) throws(FormatError) in try producer(&r, &m.producer) }
      case 2:
        if !r.seen(2) { m.architecture = .wireDefault }
        try r.message(wire) { (r: inout WireReader) throws(FormatError) in try architecture(&r, &m.architecture) }
      case 3:
        if !r.seen(3) { m.preprocessing = Manifest.Preprocessing() }
        try r.message(wire) { (r: inout WireReader) throws(FormatError) in try preprocessing(&r, &m.preprocessing) }
      case 4:
        blocks += 1
        guard blocks <= ManifestCodec.maxBlocks else {
          throw FormatError(.invalid, "manifest has more than \(ManifestCodec.maxBlocks) blocks")
        }
        var b = Manifest.Block()
        try r.message(wire) { (r: inout WireReader) throws(FormatError) in try block(&r, &b) }
        m.blocks.append(b)
      case 5:
        var w = Manifest.Weight(type: .unspecified)
        try r.message(wire) { (r: inout WireReader) throws(FormatError) in try weight(&r, &w) }
        try WireReader.append(w, to: &m.weights)
      case 6: try r.message(wire) { (r: inout WireReader) throws(FormatError) in try compile(&r, &m.compile) }
      case 7: try r.message(wire) { (r: inout WireReader) throws(FormatError) in try calibration(&r, &m.calibration) }
      case 8:
        var e = Manifest.EntropyTable()
        try r.message(wire) { (r: inout WireReader) throws(FormatError) in try entropy(&r, &e) }
        try WireReader.append(e, to: &m.entropy)
      default: try r.skip(wire)
      }
    }
    return m
  }

  private static func producer(_ r: inout WireReader, _ p: inout Manifest.Producer) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: p.name = try r.string(wire)
      case 2: p.version = try r.string(wire)
      default: try r.skip(wire)
      }
    }
  }

  private static func architecture(_ r: inout WireReader, _ a: inout Manifest.Architecture) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: a.family = Manifest.Family(rawValue: try r.uint32(wire)) ?? .unspecified
      case 2: a.imageSize = Int(try r.uint32(wire))
      case 3: a.patchSize = Int(try r.uint32(wire))
      case 4: a.inChannels = Int(try r.uint32(wire))
      case 5: a.embedDim = Int(try r.uint32(wire))
      case 6: a.depth = Int(try r.uint32(wire))
      case 7: a.mlpHidden = Int(try r.uint32(wire))
      case 8: a.classTokens = Int(try r.uint32(wire))
      case 9: a.distillationTokens = Int(try r.uint32(wire))
      case 10: a.registerTokens = Int(try r.uint32(wire))
      case 11: a.posEmbedCoversPrefix = try r.bool(wire)
      case 12: a.normEps = try r.float(wire)
      case 13: a.layerScale = try r.bool(wire)
      case 14: a.numClasses = Int(try r.uint32(wire))
      case 15: a.pooling = Manifest.Pooling(rawValue: try r.uint32(wire)) ?? .unspecified
      case 16: a.fcNorm = try r.bool(wire)
      case 17: a.qkvBias = try r.bool(wire)
      case 18: a.windowSize = Int(try r.uint32(wire))
      case 19: try r.repeatedUInt32(wire, into: &a.stageDepths)
      case 20: try r.repeatedUInt32(wire, into: &a.stageHeads)
      case 21: a.patchNorm = try r.bool(wire)
      default: try r.skip(wire)
      }
    }
  }

  private static func preprocessing(_ r: inout WireReader, _ p: inout Manifest.Preprocessing) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: p.resizeShorterSide = Int(try r.uint32(wire))
      case 2: p.cropSize = Int(try r.uint32(wire))
      case 3: try r.repeatedFloat(wire, into: &p.mean)
      case 4: try r.repeatedFloat(wire, into: &p.std)
      case 5: p.interpolation = Manifest.Interpolation(rawValue: try r.uint32(wire)) ?? .unspecified
      default: try r.skip(wire)
      }
    }
  }

  private static func block(_ r: inout WireReader, _ b: inout Manifest.Block) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: b.index = Int(try r.uint32(wire))
      case 2: b.heads = Int(try r.uint32(wire))
      case 3: b.dim = Int(try r.uint32(wire))
      case 4: b.mlpHidden = Int(try r.uint32(wire))
      case 5: b.attentionRemoved = try r.bool(wire)
      case 6:
        var f = Manifest.FrozenMap()
        try r.message(wire) { (r: inout WireReader) throws(FormatError) in try frozen(&r, &f) }
        try WireReader.append(f, to: &b.frozen)
      case 7: b.frozenFraction = try r.float(wire)
      case 8: b.stage = Int(try r.uint32(wire))
      case 9: b.windowSize = Int(try r.uint32(wire))
      case 10: b.shiftSize = Int(try r.uint32(wire))
      case 11: b.mergeBefore = try r.bool(wire)
      case 12: b.resolution = Int(try r.uint32(wire))
      case 13: b.residual = Manifest.Residual(rawValue: try r.uint32(wire)) ?? .unknown
      case 14: b.mlpRank = Int(try r.uint32(wire))
      case 15:
        var h = Manifest.HallucinatedHead()
        try r.message(wire) { (r: inout WireReader) throws(FormatError) in try hallucinated(&r, &h) }
        try WireReader.append(h, to: &b.hallucinated)
      default: try r.skip(wire)
      }
    }
  }

  private static func hallucinated(_ r: inout WireReader, _ h: inout Manifest.HallucinatedHead) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: h.head = Int(try r.uint32(wire))
      case 2: try r.repeatedUInt32(wire, into: &h.sources)
      case 3: try r.repeatedFloat(wire, into: &h.weights)
      case 4: h.intercept = try r.float(wire)
      default: try r.skip(wire)
      }
    }
  }

  private static func frozen(_ r: inout WireReader, _ f: inout Manifest.FrozenMap) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: f.head = Int(try r.uint32(wire))
      case 2: f.frozenEntries = Int(try r.uint32(wire))
      case 3: f.bits = Int(try r.uint32(wire))
      case 4: f.scale = try r.float(wire)
      case 5: f.maskSection = try r.string(wire)
      case 6: f.valuesSection = try r.string(wire)
      case 7: f.wholeHead = try r.bool(wire)
      default: try r.skip(wire)
      }
    }
  }

  private static func weight(_ r: inout WireReader, _ w: inout Manifest.Weight) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: w.name = try r.string(wire)
      case 2: w.type = Manifest.WeightType(rawValue: try r.uint32(wire)) ?? .unspecified
      case 3: w.scaleSection = try r.string(wire)
      case 4: w.sumsSection = try r.string(wire)
      case 5: w.groupSize = Int(try r.uint32(wire))
      case 6: w.activation = Manifest.ActivationQuant(rawValue: try r.uint32(wire)) ?? .unknown
      case 7: w.activationMin = try r.float(wire)
      case 8: w.activationMax = try r.float(wire)
      default: try r.skip(wire)
      }
    }
  }

  private static func compile(_ r: inout WireReader, _ c: inout Manifest.CompileSettings) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: try WireReader.append(try r.string(wire), to: &c.arguments)
      case 2: c.sourceName = try r.string(wire)
      case 3: c.sourceFormat = try r.string(wire)
      case 4: c.sourceSHA256 = try r.string(wire)
      default: try r.skip(wire)
      }
    }
  }

  private static func calibration(_ r: inout WireReader, _ c: inout Manifest.Calibration) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: c.images = Int(try r.uint32(wire))
      case 2: c.setSHA256 = try r.string(wire)
      case 3: try WireReader.append(try r.string(wire), to: &c.imageSHA256)
      default: try r.skip(wire)
      }
    }
  }

  private static func entropy(_ r: inout WireReader, _ e: inout Manifest.EntropyTable) throws(FormatError) {
    while let (field, wire) = try r.tag() {
      switch field {
      case 1: e.block = Int(try r.uint32(wire))
      case 2: try r.repeatedFloat(wire, into: &e.headEntropy)
      case 3: try r.repeatedFloat(wire, into: &e.frozenFraction)
      default: try r.skip(wire)
      }
    }
  }
}

extension Manifest.Architecture {
  /// An architecture message whose fields are all absent on the wire: every field at its
  /// protobuf default (0, false), not at the Swift defaults of `init()`.
  static var wireDefault: Manifest.Architecture {
    var a = Manifest.Architecture()
    a.inChannels = 0
    a.posEmbedCoversPrefix = false
    a.normEps = 0
    a.pooling = .unspecified
    a.qkvBias = false
    return a
  }
}

/// Bounds-checked reads of protobuf wire data. Every read past the end throws.
struct WireReader {
  private let buffer: UnsafeRawBufferPointer
  private var position = 0
  private let end: Int
  /// Top-level fields seen so far (bit n for field n < 64), for fields whose first occurrence
  /// resets a default.
  private var seenFields: UInt64 = 0
  /// The field being read, for messages.
  private var field = 0

  init(_ buffer: UnsafeRawBufferPointer) {
    self.buffer = buffer
    end = buffer.count
  }

  private init(_ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) {
    self.buffer = buffer
    position = start
    self.end = end
  }

  private static func malformed(_ what: String) -> FormatError {
    FormatError(.invalid, "manifest is not a valid eam.v1.Manifest protobuf (" + what + ")")
  }

  /// Whether top-level field `n` was seen before the current one (and marks it seen).
  mutating func seen(_ n: Int) -> Bool {
    let bit: UInt64 = 1 << UInt64(n)
    defer { seenFields |= bit }
    return seenFields & bit != 0
  }

  mutating func varint() throws(FormatError) -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard position < end else { throw Self.malformed("truncated varint") }
      let byte = buffer[position]
      position += 1
      guard shift < 64, shift < 63 || byte <= 1 else { throw Self.malformed("varint longer than 64 bits") }
      value |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return value }
      shift += 7
    }
  }

  /// The next field number and wire type, or nil at the end of this message.
  mutating func tag() throws(FormatError) -> (Int, Int)? {
    guard position < end else { return nil }
    let key = try varint()
    let field = key >> 3, wire = Int(key & 7)
    guard field >= 1, field <= 0x1FFF_FFFF else { throw Self.malformed("field number \(field)") }
    guard wire == 0 || wire == 1 || wire == 2 || wire == 5 else {
      throw Self.malformed("wire type \(wire) of field \(field)")
    }
    self.field = Int(field)
    return (Int(field), wire)
  }

  private mutating func take(_ n: Int) throws(FormatError) -> Int {
    guard n >= 0, end - position >= n else { throw Self.malformed("length past the end") }
    let p = position
    position += n
    return p
  }

  private mutating func lengthDelimited() throws(FormatError) -> (start: Int, end: Int) {
    let length = try varint()
    guard length <= UInt64(end - position) else { throw Self.malformed("length past the end") }
    let start = try take(Int(length))
    return (start, start + Int(length))
  }

  mutating func skip(_ wire: Int) throws(FormatError) {
    switch wire {
    case 0: _ = try varint()
    case 1: _ = try take(8)
    case 2: _ = try lengthDelimited()
    default: _ = try take(4)
    }
  }

  private func expect(_ wire: Int, _ expected: Int) throws(FormatError) {
    guard wire == expected else { throw Self.malformed("field \(field) has wire type \(wire), not \(expected)") }
  }

  mutating func uint32(_ wire: Int) throws(FormatError) -> UInt32 {
    try expect(wire, 0)
    return UInt32(truncatingIfNeeded: try varint())
  }

  mutating func bool(_ wire: Int) throws(FormatError) -> Bool {
    guard wire == 0 else { throw Self.malformed("field \(field), a bool, has wire type \(wire), not 0") }
    return try varint() != 0
  }

  private mutating func fixed32() throws(FormatError) -> UInt32 {
    let p = try take(4)
    var v: UInt32 = 0
    for i in 0..<4 { v |= UInt32(buffer[p + i]) << UInt32(8 * i) }
    return v
  }

  mutating func float(_ wire: Int) throws(FormatError) -> Float {
    try expect(wire, 5)
    return Float(bitPattern: try fixed32())
  }

  mutating func string(_ wire: Int) throws(FormatError) -> String {
    try expect(wire, 2)
    let (start, stop) = try lengthDelimited()
    guard let s = String(validating: buffer[start..<stop], as: UTF8.self) else { throw Self.malformed("invalid UTF-8") }
    return s
  }

  /// Reads an embedded message with `body`, which sees only the message's bytes.
  mutating func message(_ wire: Int, _ body: (inout WireReader) throws(FormatError) -> Void) throws(FormatError) {
    try expect(wire, 2)
    let (start, stop) = try lengthDelimited()
    var inner = WireReader(buffer, from: start, to: stop)
    try body(&inner)
  }

  mutating func repeatedUInt32(_ wire: Int, into values: inout [Int]) throws(FormatError) {
    if wire == 0 {
      try Self.append(Int(UInt32(truncatingIfNeeded: try varint())), to: &values)
      return
    }
    try expect(wire, 2)
    let (start, stop) = try lengthDelimited()
    var inner = WireReader(buffer, from: start, to: stop)
    while inner.position < inner.end { try Self.append(Int(UInt32(truncatingIfNeeded: try inner.varint())), to: &values) }
  }

  mutating func repeatedFloat(_ wire: Int, into values: inout [Float]) throws(FormatError) {
    if wire == 5 {
      try Self.append(Float(bitPattern: try fixed32()), to: &values)
      return
    }
    try expect(wire, 2)
    let (start, stop) = try lengthDelimited()
    guard (stop - start) % 4 == 0 else { throw Self.malformed("packed floats of \(stop - start) bytes") }
    var inner = WireReader(buffer, from: start, to: stop)
    while inner.position < inner.end { try Self.append(Float(bitPattern: try inner.fixed32()), to: &values) }
  }

  /// Appends to a repeated field, refusing lists longer than `ManifestCodec.maxRepeated`.
  static func append<T>(_ value: T, to values: inout [T]) throws(FormatError) {
    guard values.count < ManifestCodec.maxRepeated else {
      throw FormatError(.invalid, "manifest has a list of more than \(ManifestCodec.maxRepeated) items")
    }
    values.append(value)
  }
}
