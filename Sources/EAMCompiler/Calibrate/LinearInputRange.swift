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

  /// The wider of both ranges per layer.
  public mutating func merge(_ other: LinearInputRange) {
    for (name, r) in other.ranges {
      ranges[name] = ranges[name].map { min($0.lowerBound, r.lowerBound)...max($0.upperBound, r.upperBound) } ?? r
    }
    images += other.images
  }

  /// Runs `batches` through `model` and records every layer's input range (`names`: each
  /// observed layer's section prefix).
  static func gather(_ model: Model, batches: [(values: [Float], images: Int)],
                     names: @escaping @Sendable (Int, ObservedLinear) -> String) throws(CompileError) -> LinearInputRange {
    final class Box: @unchecked Sendable { var ranges: [String: ClosedRange<Float>] = [:] }
    let box = Box()
    model.linearInputObserver = { block, layer, x, rows, k, ld in
      let name = names(block, layer)
      var lo: Float = 0, hi: Float = 0
      for r in 0..<rows {
        let row = x + r * ld
        for c in 0..<k {
          lo = min(lo, row[c])
          hi = max(hi, row[c])
        }
      }
      box.ranges[name] = box.ranges[name].map { min($0.lowerBound, lo)...max($0.upperBound, hi) } ?? lo...hi
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

  /// For an int8 compile with `--act-quant static`: the ranges on the calibration images, on
  /// `model` as compiled (after every pass), in float.
  static func forCompile(_ model: ModelDescription, options: CompileOptions, source: String)
    throws(CompileError) -> LinearInputRange?
  {
    guard options.precision == .int8, options.quantization.activation == .static else { return nil }
    let images = Calibration.select(options.calibrationImages, options: options.calibration)
    guard !images.isEmpty else {
      throw CompileError("--act-quant static measures each layer's input range on calibration images: give --calib")
    }
    let float = try Evaluation.model(of: model, name: source, threads: options.threads, source: source)
    var batches: [(values: [Float], images: Int)] = []
    for chunk in stride(from: 0, to: images.count, by: 8).map({ Array(images[$0..<min(images.count, $0 + 8)]) }) {
      batches.append((try ImageInput.batch(paths: chunk, preprocessing: float.manifest.preprocessing), chunk.count))
    }
    let r = try gather(float, batches: batches, names: LinearInputGram.namer(for: model))
    guard !r.ranges.isEmpty else { throw CompileError("\(source): no linear layer's input was observed for --act-quant static") }
    for (name, range) in r.ranges where !(range.lowerBound.isFinite && range.upperBound.isFinite) {
      throw CompileError("\(source): the input of \(name) is not finite on the calibration images")
    }
    return r
  }
}
