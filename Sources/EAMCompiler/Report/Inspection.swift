import EAMFormat
import EAMRuntime

/// What `eamc inspect` shows about an artifact: header, architecture, blocks, sections, sizes.
public struct Inspection {
  public let artifact: Artifact
  /// Per section: nil when not verified, else whether it passed.
  public private(set) var verified: [String: Bool] = [:]
  public private(set) var firstFailure: FormatError?

  /// The manifest entry of each weight, and of each part (scale, sums) the entry of its weight.
  let weightOf: [String: Manifest.Weight]

  public init(artifact: Artifact) {
    self.artifact = artifact
    var parts: [String: Manifest.Weight] = [:]
    for w in artifact.manifest.weights {
      parts[w.name] = w
      for part in [w.scaleSection, w.sumsSection] where !part.isEmpty && (w.type == .int8 || w.type == .int4) { parts[part] = w }
    }
    weightOf = parts
  }

  /// Checks the manifest's values (`ManifestValidation`), then every section's checksum and
  /// decompression (a section larger than `memoryBudget` is refused before it is decompressed);
  /// records the first failure.
  public mutating func verify(memoryBudget: Int = LoadOptions.defaultMemoryBudget) {
    do throws(FormatError) { try ManifestValidation.check(artifact.manifest, path: artifact.path) } catch {
      if firstFailure == nil { firstFailure = error }
    }
    for s in artifact.sections {
      do throws(FormatError) {
        guard s.rawLength <= memoryBudget else {
          throw FormatError(.compression, "section '\(s.name)' holds \(s.rawLength) bytes, over the memory budget of \(memoryBudget)", path: artifact.path)
        }
        _ = try artifact.rawBytes(s, verify: true)
        verified[s.name] = true
      } catch {
        verified[s.name] = false
        if firstFailure == nil { firstFailure = error }
      }
    }
  }

  /// Bytes of the tensors as float32: every section but the EAM maps (u8 blobs) and the parts of
  /// quantized weights (their scales and sums), at 4 bytes per logical element.
  var floatWeightBytes: Int { artifact.sections.reduce(0) { $0 + (floatEquivalent($1) ?? 0) } }

  /// A section's size as float32, nil for a quantized weight's part and the EAM maps.
  func floatEquivalent(_ s: SectionInfo) -> Int? {
    if let w = weightOf[s.name], w.name != s.name { return nil }
    if s.dtype == .u8 && s.layout != .int4Panels { return nil }
    return 4 * s.elementCount
  }

  /// What a section holds in the type column: its weight's type, a part of a quantized weight,
  /// or "map" (EAM).
  func typeName(_ s: SectionInfo) -> String {
    guard let w = weightOf[s.name] else { return s.dtype == .u8 ? "map" : s.dtype.name }
    if w.name == s.name { return w.type.name }
    return s.name == w.sumsSection ? "sums" : "scale"
  }

  /// Stored bytes per weight type (a quantized weight's parts with it; EAM maps as "map"), with
  /// the float32 bytes of the same tensors, largest first.
  public var sizeByType: [(type: String, tensors: Int, stored: Int, float: Int)] {
    var rows: [String: (tensors: Int, stored: Int, float: Int)] = [:]
    for s in artifact.sections {
      let w = weightOf[s.name]
      let key = w?.type.name ?? (s.dtype == .u8 ? "map" : s.dtype.name)
      var r = rows[key] ?? (0, 0, 0)
      if w == nil || w!.name == s.name { r.tensors += 1 }
      r.stored += s.storedLength
      r.float += floatEquivalent(s) ?? 0
      rows[key] = r
    }
    return rows.map { (type: $0.key, tensors: $0.value.tensors, stored: $0.value.stored, float: $0.value.float) }
      .sorted { $0.stored > $1.stored }
  }

  static func layoutName(_ l: Layout) -> String {
    switch l {
    case .rowMajor: "rows"
    case .panelPacked: "packed"
    case .int8Panels: "int8p"
    case .int4Panels: "int4p"
    }
  }
  var storedBytes: Int { artifact.sections.reduce(0) { $0 + $1.storedLength } }

  public var text: String {
    let m = artifact.manifest, a = m.architecture, h = artifact.header
    var out: [String] = []
    out.append("\(artifact.path): .eam version \(h.major).\(h.minor), \(artifact.bytes.count) bytes, written by \(m.producer.name) \(m.producer.version)")
    out.append("source:        \(m.compile.sourceName) (\(m.compile.sourceFormat)) sha256 \(m.compile.sourceSHA256.prefix(16))…")
    out.append("flags:         \(m.compile.arguments.joined(separator: " "))")
    let tokens = a.prefixTokens + a.patchTokens
    out.append("architecture:  \(a.family.name), image \(a.imageSize), patch \(a.patchSize), width \(a.embedDim), depth \(a.depth), MLP \(a.mlpHidden), tokens \(tokens) (class \(a.classTokens), distillation \(a.distillationTokens), registers \(a.registerTokens))")
    out.append("               layer scale \(a.layerScale ? "yes (folded)" : "no"), norm eps \(a.normEps), output \(a.numClasses > 0 ? "classifier, \(a.numClasses) classes" : "features, \(a.embedDim) values") (\(poolingName(a.pooling))\(a.fcNorm ? ", fc_norm" : ""))")
    if a.family == .swin {
      let shifts = m.blocks.map { b in b.shiftSize > 0 ? "\(b.windowSize)/\(b.shiftSize)" : "\(b.windowSize)" }
      out.append("               stages \(a.stageDepths), heads \(a.stageHeads), window \(a.windowSize), patch norm \(a.patchNorm ? "yes" : "no"), window/shift per block \(shifts.joined(separator: " "))")
    }
    out.append("heads:         \(m.blocks.first?.heads ?? 0) per block, \(headsSource)")
    let p = m.preprocessing
    out.append("preprocessing: resize \(p.resizeShorterSide) \(p.interpolation == .bilinear ? "bilinear" : "bicubic"), crop \(p.cropSize), mean \(p.mean), std \(p.std)")
    if m.calibration.images > 0 {
      out.append("calibration:   \(m.calibration.images) images, set sha256 \(m.calibration.setSHA256.prefix(16))…"
                 + (m.calibration.imageSHA256.isEmpty ? "" : ", each image's hash recorded"))
    }
    out.append("blocks:")
    out.append("  block  heads  width  MLP    attention  frozen")
    for b in m.blocks {
      let attention = residualName(b.effectiveResidual)
      let frozenHeads = b.frozen.filter(\.wholeHead).count
      out.append("  " + pad(b.index, 5) + "  " + pad(b.heads, 5) + "  " + pad(b.dim, 5) + "  " + pad(b.mlpHidden, 5) + "  "
                 + attention.padding(9) + "  " + percent(Double(b.frozenFraction)) + (frozenHeads > 0 ? " (\(frozenHeads) whole heads)" : ""))
    }
    out.append("sections (\(artifact.sections.count)):")
    out.append("  name                                      type   dtype  shape            layout  stored      ratio   codec" + (verified.isEmpty ? "" : "  check"))
    for s in artifact.sections {
      let ratio = s.rawLength == 0 ? 1 : Double(s.storedLength) / Double(s.rawLength)
      var line = "  " + s.name.padding(40) + "  " + typeName(s).padding(5) + "  " + s.dtype.name.padding(5) + "  "
      line += "\(s.shape)".padding(15) + "  " + Self.layoutName(s.layout).padding(6) + "  " + String(s.storedLength).padding(10) + "  "
      line += percent(ratio).padding(6) + "  " + s.compression.name.padding(5)
      if let ok = verified[s.name] { line += "  " + (ok ? "ok" : "FAILED") }
      out.append(line)
    }
    let total = artifact.bytes.count, float = floatWeightBytes
    out.append("size:          \(mib(total)) on disk; float32 weights \(mib(float)); ratio \(percent(Double(total) / Double(max(float, 1))))")
    out.append("size by type:  type   tensors  stored        as float32    ratio   of the file")
    for r in sizeByType {
      let ratio = r.float > 0 ? percent(Double(r.stored) / Double(r.float)) : "-"
      out.append("               " + r.type.padding(5) + "  " + pad(r.tensors, 7) + "  " + mib(r.stored).padding(12) + "  "
                 + (r.float > 0 ? mib(r.float) : "-").padding(12) + "  " + ratio.padding(6) + "  "
                 + percent(Double(r.stored) / Double(max(total, 1))))
    }
    if !verified.isEmpty {
      out.append(firstFailure == nil ? "verify:        all \(verified.count) section checksums ok"
                                     : "verify:        FAILED: \(firstFailure!.description)")
    }
    return out.joined(separator: "\n")
  }

  public var json: JSON {
    let m = artifact.manifest, a = m.architecture, h = artifact.header
    var fields: [(String, JSON)] = [
      ("path", .string(artifact.path)),
      ("format_version", .string("\(h.major).\(h.minor)")),
      ("file_bytes", .int(artifact.bytes.count)),
      ("producer", .object([("name", .string(m.producer.name)), ("version", .string(m.producer.version))])),
      ("source", .object([("name", .string(m.compile.sourceName)), ("format", .string(m.compile.sourceFormat)),
                          ("sha256", .string(m.compile.sourceSHA256))])),
      ("flags", .array(m.compile.arguments.map { .string($0) })),
      ("heads_source", .string(headsSource)),
      ("architecture", .object([
        ("family", .string(a.family.name)), ("image_size", .int(a.imageSize)), ("patch_size", .int(a.patchSize)),
        ("in_channels", .int(a.inChannels)), ("embed_dim", .int(a.embedDim)), ("depth", .int(a.depth)),
        ("mlp_hidden", .int(a.mlpHidden)), ("class_tokens", .int(a.classTokens)),
        ("distillation_tokens", .int(a.distillationTokens)), ("register_tokens", .int(a.registerTokens)),
        ("tokens", .int(a.prefixTokens + a.patchTokens)), ("layer_scale", .bool(a.layerScale)),
        ("norm_eps", .number(Double(a.normEps))), ("num_classes", .int(a.numClasses)),
        ("pooling", .string(poolingName(a.pooling))), ("fc_norm", .bool(a.fcNorm)),
      ])),
      ("preprocessing", .object([
        ("resize_shorter_side", .int(m.preprocessing.resizeShorterSide)), ("crop_size", .int(m.preprocessing.cropSize)),
        ("mean", .floats(m.preprocessing.mean)), ("std", .floats(m.preprocessing.std)),
        ("interpolation", .string(m.preprocessing.interpolation == .bilinear ? "bilinear" : "bicubic")),
      ])),
      ("calibration", .object([("images", .int(m.calibration.images)), ("sha256", .string(m.calibration.setSHA256)),
                                ("image_sha256", .array(m.calibration.imageSHA256.map { .string($0) }))])),
      ("blocks", .array(m.blocks.map { b in
        .object([("index", .int(b.index)), ("heads", .int(b.heads)), ("dim", .int(b.dim)), ("mlp_hidden", .int(b.mlpHidden)),
                 ("attention_removed", .bool(b.attentionRemoved)), ("residual", .string(residualName(b.effectiveResidual))),
                 ("frozen_fraction", .number(Double(b.frozenFraction))),
                 ("frozen_whole_heads", .int(b.frozen.filter(\.wholeHead).count))])
      })),
      ("sections", .array(artifact.sections.map { s in
        var f: [(String, JSON)] = [
          ("name", .string(s.name)), ("dtype", .string(s.dtype.name)), ("shape", .array(s.shape.map { .int($0) })),
          ("type", .string(typeName(s))),
          ("layout", .string(Self.layoutName(s.layout))), ("compression", .string(s.compression.name)),
          ("offset", .int(s.offset)), ("stored_bytes", .int(s.storedLength)), ("raw_bytes", .int(s.rawLength)),
          ("crc32c", .string(String(s.checksum, radix: 16))),
        ]
        if let ok = verified[s.name] { f.append(("verified", .bool(ok))) }
        return .object(f)
      })),
      ("total_bytes", .int(artifact.bytes.count)),
      ("float32_weight_bytes", .int(floatWeightBytes)),
      ("size_by_type", .array(sizeByType.map { r in
        .object([("type", .string(r.type)), ("tensors", .int(r.tensors)), ("stored_bytes", .int(r.stored)),
                 ("float32_bytes", .int(r.float))])
      })),
    ]
    if !verified.isEmpty {
      fields.append(("verify", .object([("ok", .bool(firstFailure == nil)),
                                        ("error", firstFailure.map { .string($0.description) } ?? .null)])))
    }
    return .object(fields)
  }

  /// How the compile found the head count: the manifest records `--heads=N` when the user gave
  /// it or the checkpoint said; Swin's come from the tensor shapes; otherwise it was a guess.
  var headsSource: String {
    let m = artifact.manifest
    if m.architecture.family == .swin { return "read from the tensor shapes" }
    if m.compile.arguments.contains(where: { $0.hasPrefix("--heads=") }) { return "given with --heads or read from the checkpoint's metadata" }
    return "GUESSED at compile time (width \(m.architecture.embedDim) / head dimension 64; no --heads, nothing in the checkpoint)"
  }

  /// How the block's attention half reads in `inspect`: "full", or the rule of a removed one.
  private func residualName(_ r: Manifest.Residual) -> String {
    switch r {
    case .attention, .unspecified: "full"
    case .double: "x = 2x"
    case .identity: "skipped"
    case .unknown: "unknown"
    }
  }

  private func poolingName(_ p: Manifest.Pooling) -> String {
    switch p {
    case .classToken: "class token"
    case .meanPatch: "mean of patch tokens"
    case .meanAll: "mean of all tokens"
    case .unspecified: "unspecified"
    }
  }
}

func pad(_ n: Int, _ width: Int) -> String { String(n).padding(width) }
/// A fraction as a percentage; a value from a hostile file (NaN, ±∞, 1e30) is shown, not converted.
func percent(_ x: Double) -> String { x.isFinite && abs(x) < 1e12 ? "\(Double(Int((x * 1000).rounded())) / 10)%" : "\(x)" }
func mib(_ bytes: Int) -> String { "\(Double(Int((Double(bytes) / 1_048_576 * 100).rounded())) / 100) MiB" }

extension String {
  func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
