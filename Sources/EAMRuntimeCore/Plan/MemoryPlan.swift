import EAMFormat
import EAMKernels

/// The memory a model allocates because of its manifest, in bytes, computed from the validated
/// manifest and the section table before any of it is allocated (docs/VALIDATION.md). The arena
/// and scratch follow `Arena`'s sizes exactly; frozen maps are an upper bound of what `FrozenHead`
/// holds; copied weights follow `WeightStore`'s rules for every section the manifest declares.
public struct PlannedMemory: Equatable, Sendable {
  public var batch: Int
  public var threads: Int
  /// Activations for `batch` images: residual stream, LayerNorm output, the wide buffer (qkv or
  /// MLP hidden), one image's patches, pooled features, logits.
  public var arena: Int
  /// Per thread: one attention map (T×T; Swin: one window's) and the fused kernel's scratch.
  public var scratch: Int
  /// The frozen maps decoded at load (dense values, masks, packed copies).
  public var frozenMaps: Int
  /// Weights converted into owned buffers at load (f16 widened, compressed or misaligned ones).
  public var weightsCopied: Int
  /// The largest decompressed section held while it is converted.
  public var transient: Int
  /// Swin: every block's window order and shift mask.
  public var tables: Int

  /// Everything at once (what the budget is compared with).
  public var total: Int { arena + scratch + frozenMaps + weightsCopied + transient + tables }

  /// One line: the total and its parts.
  public var text: String {
    "\(Self.text(total)) (arena \(Self.text(arena)), attention scratch \(Self.text(scratch)) for \(threads) thread(s), frozen maps \(Self.text(frozenMaps)), weights copied \(Self.text(weightsCopied + transient)), tables \(Self.text(tables)))"
  }

  /// `1.50 GiB`, `12.3 MiB`, `4.0 KiB`, `100 bytes`, in integer arithmetic (no Foundation).
  public static func text(_ bytes: Int) -> String {
    func scaled(_ unit: Int, _ digits: Int, _ name: String) -> String {
      let factor = digits == 2 ? 100 : 10
      let whole = bytes / unit
      let fraction = (bytes % unit) * factor / unit  // < 2^30 · 100: no overflow
      let part = String(fraction)
      return String(whole) + "." + String(repeating: "0", count: max(0, digits - part.count)) + part + " " + name
    }
    if bytes >= 1 << 30 { return scaled(1 << 30, 2, "GiB") }
    if bytes >= 1 << 20 { return scaled(1 << 20, 1, "MiB") }
    if bytes >= 1 << 10 { return scaled(1 << 10, 1, "KiB") }
    return String(bytes) + " bytes"
  }
}

/// Overflow-checked byte arithmetic: nil once anything overflows.
struct ByteCount {
  private(set) var value: Int? = 0

  static func product(_ factors: [Int]) -> Int? {
    var p = 1
    for f in factors {
      guard f >= 0 else { return nil }
      let (m, o) = p.multipliedReportingOverflow(by: f)
      if o { return nil }
      p = m
    }
    return p
  }

  mutating func add(_ factors: [Int]) {
    guard let v = value, let p = Self.product(factors) else { value = nil; return }
    let (s, o) = v.addingReportingOverflow(p)
    value = o ? nil : s
  }

  mutating func add(_ other: Int?) {
    guard let v = value, let other else { value = nil; return }
    let (s, o) = v.addingReportingOverflow(other)
    value = o ? nil : s
  }
}

enum MemoryPlan {
  /// The model's memory for `batch` images on `threads` threads; nil when it overflows an Int.
  /// `manifest` must have passed `ManifestValidation` (which gave `derived`).
  static func plan(_ artifact: Artifact, derived: ManifestValidation.Derived, batch: Int, threads: Int,
                   options: LoadOptions) -> PlannedMemory? {
    let m = artifact.manifest
    var arena = ByteCount(), scratch = ByteCount(), frozen = ByteCount(), tables = ByteCount()
    if m.architecture.family == .swin {
      swin(m, batch: batch, threads: threads, arena: &arena, scratch: &scratch, tables: &tables, frozen: &frozen)
    } else {
      vit(m, derived: derived, batch: batch, threads: threads, attention: options.attention,
          arena: &arena, scratch: &scratch, frozen: &frozen)
    }
    if let codes = activationCodes(m, derived: derived, batch: batch) {
      scratch.add([codes.rows, codes.ld])
      scratch.add([8, codes.rows])
    } else if m.weights.contains(where: { $0.type == .int8 }) {
      scratch.add(nil)
    }
    let (copied, transient) = weights(artifact, widenF16: options.widenF16)
    guard let a = arena.value, let s = scratch.value, let f = frozen.value, let t = tables.value,
          let copied, let transient else { return nil }
    let p = PlannedMemory(batch: batch, threads: threads, arena: a, scratch: s, frozenMaps: f,
                          weightsCopied: copied, transient: transient, tables: t)
    var total = ByteCount()
    for part in [a, s, f, copied, transient, t] { total.add(part) }
    return total.value == nil ? nil : p
  }

  /// The int8 layers' inputs quantized per token (`ActivationCodes`): rows × ld codes, and a scale
  /// and a zero point per row, for the most rows (every token of the batch) and the widest input
  /// of any layer (width, MLP hidden, Swin's 2×2 merge, patch). nil when no weight is int8, or
  /// when the rows overflow. What the model reserves at load.
  static func activationCodes(_ m: Manifest, derived: ManifestValidation.Derived, batch: Int) -> (rows: Int, ld: Int)? {
    guard m.weights.contains(where: { $0.type == .int8 }), let rows = ByteCount.product([batch, derived.tokens]) else {
      return nil
    }
    let a = m.architecture
    var k = max(a.embedDim, a.inChannels * a.patchSize * a.patchSize)
    for b in m.blocks { k = max(k, b.dim, b.mlpHidden, a.family == .swin ? 4 * b.dim : 0) }
    return (rows, Kernels.int8PaddedK(k))
  }

  /// `Arena(plan: ViTPlan)` and every `FrozenHead`.
  static func vit(_ m: Manifest, derived: ManifestValidation.Derived, batch: Int, threads: Int, attention: AttentionKernel,
                  arena: inout ByteCount, scratch: inout ByteCount, frozen: inout ByteCount) {
    let a = m.architecture, d = a.embedDim, t = derived.tokens
    var hidden = 0
    for b in m.blocks { hidden = max(hidden, b.mlpHidden) }
    let rows = ByteCount.product([batch, t]) ?? -1
    let output = a.numClasses > 0 ? a.numClasses : d
    arena.add([4, 2, rows, d])                                 // x, normed
    arena.add([4, rows, max(3 * d, hidden)])                   // wide
    arena.add([4, derived.patchTokens, a.inChannels, a.patchSize, a.patchSize])
    arena.add([4, batch, d])                                   // pooled
    arena.add([4, batch, max(output, 1)])                      // logits
    scratch.add([4, threads, t, t])                            // one map per thread
    if attention.isFused(tokens: t) {
      var fused = 0
      for b in m.blocks where !b.attentionRemoved {
        fused = max(fused, Kernels.attentionScratchCount(tokens: t, headDim: d / b.heads))
      }
      scratch.add([4, threads, fused])
    }
    // Hallucinated heads: one image's computed maps of the widest such block.
    var made = 0
    for b in m.blocks where !b.attentionRemoved && !b.hallucinated.isEmpty { made = max(made, b.heads) }
    if made > 0 { arena.add([4, made, t, t]) }
    for b in m.blocks where !b.attentionRemoved {
      for f in b.frozen { frozenHead(f, tokens: t, into: &frozen) }
    }
  }

  /// What one `FrozenHead` over `t` tokens holds at most (its fused layout included).
  static func frozenHead(_ f: Manifest.FrozenMap, tokens t: Int, into frozen: inout ByteCount) {
    let words = Kernels.frozenMaskWords(cols: t)
    let groups = (t + Kernels.attentionQueryBlock - 1) / Kernels.attentionQueryBlock
    frozen.add([2, t, t])                                  // the mask and the codes (row layout), a byte an entry each
    if f.wholeHead { frozen.add([4, t, t]) }               // a whole head's dense values
    frozen.add([(t * t + 7) / 8])                          // the mask section's bytes
    frozen.add([(f.frozenEntries * f.bits + 7) / 8])       // the codes' bytes
    frozen.add([2, t, words])                              // row bitmask
    frozen.add([4 + 4 + 16 + 8, t])                        // row starts, free mass, runs
    frozen.add([8, Kernels.attentionMaskWords(tokens: t)]) // fused mask
    frozen.add([8, Kernels.attentionDeadWords(tokens: t)]) // its dead keys
    frozen.add([4, groups + 1])                            // fused entry starts
    let entryBytes = 4 + 2 * Kernels.attentionCodeBits(bits: f.bits)                     // fused entries: key, 16 codes
    frozen.add([entryBytes, min(f.frozenEntries, ByteCount.product([groups, t]) ?? .max)])
  }

  /// `Arena(plan: SwinPlan)`, the per-block tables and every `FrozenHead` (w² tokens), following
  /// `SwinPlan`'s stage walk (its consistency checks come later; here every product is only
  /// overflow-checked).
  static func swin(_ m: Manifest, batch: Int, threads: Int, arena: inout ByteCount, scratch: inout ByteCount,
                   tables: inout ByteCount, frozen: inout ByteCount) {
    let a = m.architecture
    let grid = a.imageSize / a.patchSize
    var r = grid, dim = a.embedDim, next = 0
    var activation = ByteCount.product([r, r, dim]) ?? -1, wide = 0, window = 0
    for (s, depth) in a.stageDepths.enumerated() {
      guard next < m.blocks.count else { break }
      if s > 0 {
        r /= 2
        dim = m.blocks[next].dim
        activation = max(activation, ByteCount.product([r, r, dim]) ?? Int.max)
      }
      for _ in 0..<depth where next < m.blocks.count {
        let b = m.blocks[next]
        let w = min(b.windowSize, max(r, 1))
        wide = max(wide, ByteCount.product([r, r, max(3 * dim, b.mlpHidden)]) ?? Int.max)
        window = max(window, w * w)
        tables.add([8, r, r])                                  // window order
        if b.shiftSize > 0 { tables.add([4, r, r, w, w]) }     // shift mask
        for f in b.frozen { frozenHead(f, tokens: w * w, into: &frozen) }
        next += 1
      }
    }
    let output = a.numClasses > 0 ? a.numClasses : dim
    arena.add([4, 2, batch, activation])
    arena.add([4, batch, wide])
    arena.add([4, grid, grid, a.inChannels, a.patchSize, a.patchSize])
    arena.add([4, batch, dim])
    arena.add([4, batch, max(output, 1)])
    scratch.add([4, threads, window, window])
  }

  /// What `WeightStore` copies: floats that are compressed, f16 (widened) or misaligned; f16
  /// panel-packed weights only when compressed (or misaligned, or widened on request). And the
  /// largest decompressed section, held while converting.
  static func weights(_ artifact: Artifact, widenF16: Bool) -> (copied: Int?, transient: Int?) {
    var copied = ByteCount()
    var transient = 0
    let base = Int(bitPattern: artifact.bytes.baseAddress)
    for w in artifact.manifest.weights {
      guard let s = artifact.section(w.name) else { continue }
      let start = base &+ s.offset
      if s.compression != .none { transient = max(transient, s.rawLength) }
      if w.type == .int8 || w.type == .int4 {
        // Codes used in place when stored plainly and 64-byte aligned (QuantizedWeights); their
        // scale and sum sections are small and counted with the codes.
        if s.compression != .none || start % 64 != 0 { copied.add(s.rawLength) }
        for part in [w.scaleSection, w.sumsSection] where !part.isEmpty {
          if let p = artifact.section(part), p.compression != .none || (base &+ p.offset) % 4 != 0 { copied.add(p.rawLength) }
        }
      } else if s.layout == .panelPacked, s.dtype == .f16, w.type == .f16, !widenF16 {
        if s.compression != .none || start % 2 != 0 { copied.add(s.rawLength) }
      } else if s.compression != .none || s.dtype != .f32 || start % 4 != 0 {
        copied.add([4, s.rawLength / max(s.dtype.size, 1)])
      }
    }
    return (copied.value, transient)
  }
}
