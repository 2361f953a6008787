/// One attention map before and after freezing, for the report: one query's row (its attention to
/// each patch) of one head, laid out on the patch grid — the class token's where it is partly
/// frozen, else the patch token's row frozen closest to half.
public struct AttentionExample: Sendable {
  public var block: Int
  public var head: Int
  /// The query token whose row is shown (0: the class token).
  public var query: Int
  /// Patch grid side.
  public var side: Int
  /// side×side: the median over the calibration images of the query's attention to each patch.
  public var before: [Float]
  /// side×side: the same row as the compiled model holds it: frozen entries at their stored
  /// value, the free ones scaled to the mass left (as the runtime shares it per image).
  public var after: [Float]
  /// side×side: true where frozen.
  public var frozen: [Bool]

  /// The head of a ViT with a class token whose class-token row is frozen closest to half, else
  /// the (head, patch row) frozen closest to half; nil for other models or when no row is partly
  /// frozen.
  static func pick(compiled: ModelDescription, statistics: AttentionStatistics?) -> AttentionExample? {
    let a = compiled.architecture
    guard let statistics, a.family != .swin, a.classTokens > 0 else { return nil }
    let t = compiled.tokens, prefix = a.prefixTokens
    guard let side = Recognition.squareSide(t - prefix) else { return nil }
    let layers = Calibration.attentionBlocks(compiled)
    // The head whose class-token row is frozen closest to half: both kinds of entry show.
    // (Weighted entropy rarely freezes class-token rows, which the output reads; then a patch row.)
    var best: (FrozenHeadMap, Int, Int)?
    for rows in [0..<1, prefix..<t] {
      for map in compiled.frozenMaps where !map.isWholeHead {
        for q in rows {
          let rowFrozen = map.mask[(q * t + prefix)..<((q + 1) * t)].filter { $0 }.count
          let balance = min(rowFrozen, t - prefix - rowFrozen)
          if balance > (best?.2 ?? 0) { best = (map, q, balance) }
        }
      }
      if best != nil { break }
    }
    guard let (map, q, _) = best, let layer = layers.firstIndex(of: map.block) else { return nil }
    let median = statistics.entryQuantiles(layer: layer, head: map.head, q: 0.5)
    guard median.count == t * t, map.mask.count == t * t else { return nil }
    // Stored values of the frozen entries of row q, in mask order.
    var value = [Float](repeating: 0, count: t)
    var code = 0
    for i in 0..<(t * t) where map.mask[i] {
      if i / t == q { value[i - q * t] = Float(map.codes[code]) * map.scale }
      code += 1
    }
    let row = Array(median[(q * t)..<((q + 1) * t)])
    let mask = Array(map.mask[(q * t)..<((q + 1) * t)])
    var frozenMass: Float = 0, freeMass: Float = 0
    for j in 0..<t { if mask[j] { frozenMass += value[j] } else { freeMass += row[j] } }
    let scale = freeMass > 0 ? max(0, 1 - frozenMass) / freeMass : 0
    let after = (0..<t).map { mask[$0] ? value[$0] : row[$0] * scale }
    return AttentionExample(block: map.block, head: map.head, query: q, side: side, before: Array(row[prefix...]),
                            after: Array(after[prefix...]), frozen: Array(mask[prefix...]))
  }

  var json: JSON {
    .object([("block", .int(block)), ("head", .int(head)), ("query", .int(query)), ("side", .int(side)), ("before", .floats(before)),
             ("after", .floats(after)), ("frozen", .array(frozen.map { .bool($0) }))])
  }
}
