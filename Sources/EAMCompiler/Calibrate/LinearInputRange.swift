import EAMRuntime

/// The range of the input of every linear layer of the ViT family over calibration images: what
/// static int8 activation quantization (`--act-quant static`) codes every row with. Gathered with
/// the runtime's linear-input observer on the model as compiled (float weights); shards merge
/// by taking the widest range.
public struct LinearInputRange: Equatable, Sendable {
  /// Per layer (`blocks.3.mlp.fc2`): the smallest and largest input value seen (0 included).
  public var ranges: [String: ClosedRange<Float>] = [:]
  public var images = 0

  public init() {}

  /// Per layer, the range that holds both (layers of either).
  static func widest(_ a: [String: ClosedRange<Float>], _ b: [String: ClosedRange<Float>]) -> [String: ClosedRange<Float>] {
    var out = a
    for (name, r) in b { out[name] = out[name].map { min($0.lowerBound, r.lowerBound)...max($0.upperBound, r.upperBound) } ?? r }
    return out
  }

  /// The range of `rows` rows of `k` values (`ld` apart), 0 included, widened by `known`. A NaN
  /// makes the range infinite (refused later).
  static func range(_ x: UnsafePointer<Float>, rows: Int, k: Int, ld: Int, widening known: ClosedRange<Float>?)
    -> ClosedRange<Float>
  {
    var lo = known?.lowerBound ?? 0, hi = known?.upperBound ?? 0
    var nan = false
    for r in 0..<rows {
      let row = x + r * ld
      for c in 0..<k {
        lo = min(lo, row[c])
        hi = max(hi, row[c])
        nan = nan || row[c].isNaN
      }
    }
    return nan ? -Float.infinity...Float.infinity : lo...hi
  }

  /// Runs `batches` through `model` and records every layer's input range (`names`: each
  /// observed layer's section prefix).
  static func gather(_ model: Model, batches: [(values: [Float], images: Int)],
                     names: @escaping @Sendable (Int, ObservedLinear) -> String) throws(CompileError) -> LinearInputRange {
    final class Box: @unchecked Sendable { var ranges: [String: ClosedRange<Float>] = [:] }
    let box = Box()
    model.linearInputObserver = { block, layer, x, rows, k, ld in
      let name = names(block, layer)
      box.ranges[name] = range(x, rows: rows, k: k, ld: ld, widening: box.ranges[name])
    }
    defer { model.linearInputObserver = nil }
    var result = LinearInputRange()
    for batch in batches {
      do throws(RuntimeError) { _ = try model.run(batch.values, batch: batch.images) } catch { throw CompileError(error.description) }
      result.images += batch.images
    }
    result.ranges = box.ranges
    return result
  }

  /// For an int8 compile with `--act-quant static`: with `--stats`, the ranges the statistics
  /// files carry (`eamc calibrate` records them on the float model; `statistics`: the merged
  /// files when the compile has them already); else on the calibration images, on `model` as
  /// compiled (after every pass), in float.
  static func forCompile(_ model: ModelDescription, recognised: ModelDescription, options: CompileOptions, source: String,
                         sourceSHA256: String, statistics: AttentionStatistics?) throws(CompileError) -> LinearInputRange?
  {
    guard options.precision == .int8, options.quantization.activation == .static else { return nil }
    if !options.statisticsFiles.isEmpty {
      let merged: AttentionStatistics
      if let statistics { merged = statistics } else {
        merged = try StatisticsSource.merged(options.statisticsFiles, for: recognised, sourceSHA256: sourceSHA256)
      }
      guard !merged.linearInputRanges.isEmpty else {
        throw CompileError("\(options.statisticsFiles[0]): carries no linear input ranges (made before version 2 of .eamstats): run eamc calibrate again, or give --calib")
      }
      var r = LinearInputRange()
      r.ranges = merged.linearInputRanges
      r.images = merged.imageCount
      return r
    }
    let images = Calibration.select(options.calibrationImages, options: options.calibration)
    guard !images.isEmpty else {
      throw CompileError("--act-quant static measures each layer's input range on calibration images: give --calib or --stats")
    }
    let float = try Evaluation.model(of: model, name: source, threads: options.threads, source: source)
    let batches = try ImageInput.batches(paths: images, preprocessing: float.manifest.preprocessing)
    let r = try gather(float, batches: batches, names: LinearInputGram.namer(for: model))
    guard !r.ranges.isEmpty else { throw CompileError("\(source): no linear layer's input was observed for --act-quant static") }
    for (name, range) in r.ranges where !(range.lowerBound.isFinite && range.upperBound.isFinite) {
      throw CompileError("\(source): the input of \(name) is not finite on the calibration images")
    }
    return r
  }
}
