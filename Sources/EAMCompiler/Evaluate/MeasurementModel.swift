import EAMFormat
import EAMRuntime

extension Evaluation {
  /// A model description laid out as an artifact in memory (uncompressed) and loaded in the
  /// runtime, for measurements: float32, or the given weight type (the report measures the
  /// artifact as written, and its controls with the same weights).
  static func model(of description: ModelDescription, name: String, threads: Int?, source: String,
                    weights: (precision: WeightPrecision, quantization: WeightQuantization)? = nil)
    throws(CompileError) -> Model
  {
    let bytes: [UInt8]
    var settings = EmitSettings()
    settings.compress = false
    if let weights { (settings.precision, settings.quantization) = weights }
    do throws(FormatError) { bytes = try Emitter.artifact(for: description, settings: settings) } catch {
      throw CompileError("\(source): \(error.message)")
    }
    return try model(bytes: bytes, name: name, threads: threads)
  }
}
