/// One attention map before and after freezing, for the report: the class token's row (its
/// attention to each patch) of one head, laid out on the patch grid.
public struct AttentionExample: Sendable {
  public var block: Int
  public var head: Int
  /// Patch grid side.
  public var side: Int
  /// side×side: the median over the calibration images of the class token's attention to each patch.
  public var before: [Float]
  /// side×side: the same row as the compiled model holds it: frozen entries at their stored
  /// value, the free ones scaled to the mass left (as the runtime shares it per image).
  public var after: [Float]
  /// side×side: true where frozen.
  public var frozen: [Bool]

  /// The head of a ViT with a class token whose class-token row is frozen closest to half; nil
  /// for other models or when no class-token row is partly frozen.
  static func pick(compiled: ModelDescription, statistics: AttentionStatistics?) -> AttentionExample? {
    let a = compiled.architecture
    guard let statistics, a.family != .swin, a.classTokens > 0 else { return nil }
    let t = compiled.tokens, prefix = a.prefixTokens
    guard let side = Recognition.squareSide(t - prefix) else { return nil }
    let layers = Calibration.attentionBlocks(compiled)
    // The head whose class-token row is frozen closest to half: both kinds of entry show.
    var best: (FrozenHeadMap, Int)?
    for map in compiled.frozenMaps where !map.isWholeHead {
      let rowFrozen = map.mask[prefix..<t].filter { $0 }.count
      let balance = min(rowFrozen, t - prefix - rowFrozen)
      if balance > (best?.1 ?? 0) { best = (map, balance) }
    }
    guard let (map, _) = best, let layer = layers.firstIndex(of: map.block) else { return nil }
    let median = statistics.entryQuantiles(layer: layer, head: map.head, q: 0.5)
    guard median.count == t * t, map.mask.count == t * t else { return nil }
    // Stored values of the frozen entries of row 0, in mask order.
    var value = [Float](repeating: 0, count: t)
    var code = 0
    for i in 0..<(t * t) where map.mask[i] {
      if i < t { value[i] = Float(map.codes[code]) * map.scale }
      code += 1
    }
    let row = Array(median[0..<t])
    var frozenMass: Float = 0, freeMass: Float = 0
    for j in 0..<t { if map.mask[j] { frozenMass += value[j] } else { freeMass += row[j] } }
    let scale = freeMass > 0 ? max(0, 1 - frozenMass) / freeMass : 0
    let after = (0..<t).map { map.mask[$0] ? value[$0] : row[$0] * scale }
    return AttentionExample(block: map.block, head: map.head, side: side, before: Array(row[prefix...]),
                            after: Array(after[prefix...]), frozen: Array(map.mask[prefix..<t]))
  }

  var json: JSON {
    .object([("block", .int(block)), ("head", .int(head)), ("side", .int(side)), ("before", .floats(before)),
             ("after", .floats(after)), ("frozen", .array(frozen.map { .bool($0) }))])
  }
}
