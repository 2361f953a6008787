import EAMFormat
import EAMRuntime

/// One linear layer of an int8 or int4 compile, as the report lists it: its stored type and
/// bytes (weight, scales and sums), and the output error it adds when it alone is quantized,
/// every other layer float (the layer-wise mode of TFLite's quantization debugger).
public struct LayerQuantization: Sendable, Equatable {
  /// The layer (`blocks.3.mlp.fc2`).
  public var layer: String
  /// `f32`, `f16`, `int8` or `int4`.
  public var type: String
  public var storedBytes: Int
  public var float32Bytes: Int
  /// 1 − mean cosine of the output to the float model's, this layer alone quantized; nil when
  /// not measured (no images, or the layer stays float).
  public var error: Double?

  var json: JSON {
    .object([("layer", .string(layer)), ("type", .string(type)), ("stored_bytes", .int(storedBytes)),
             ("float32_bytes", .int(float32Bytes)), ("output_error_alone", error.map { .number($0) } ?? .null)])
  }
}

/// The per-layer table of a quantizing compile.
enum QuantizationSensitivity {
  /// Images each layer's error is measured on (the first calibration images, else held-out ones).
  static let images = 8

  /// The layers of `model` emitted with `precision` and `quantization`, in artifact order, and
  /// with `images` each quantized layer's error alone (one artifact per layer, in memory).
  static func measure(_ model: ModelDescription, precision: WeightPrecision, quantization: WeightQuantization,
                      images: [String], threads: Int?, source: String) throws(CompileError) -> [LayerQuantization]
  {
    var settings = EmitSettings()
    settings.precision = precision
    settings.quantization = quantization
    settings.compress = false
    let artifact: Artifact
    do throws(FormatError) { artifact = try Artifact(bytes: try Emitter.artifact(for: model, settings: settings), name: "quantized") } catch {
      throw CompileError("\(source): \(error.message)")
    }
    let stored = Dictionary(artifact.sections.map { ($0.name, $0.storedLength) }, uniquingKeysWith: +)
    var rows: [LayerQuantization] = []
    for w in artifact.manifest.weights where w.name.hasSuffix(".weight") {
      guard let section = artifact.sections.first(where: { $0.name == w.name }), section.shape.count == 2 else { continue }
      let bytes = [w.name, w.scaleSection, w.sumsSection].filter { !$0.isEmpty }.reduce(0) { $0 + (stored[$1] ?? 0) }
      rows.append(LayerQuantization(layer: String(w.name.dropLast(".weight".count)), type: w.type.name, storedBytes: bytes,
                                    float32Bytes: section.shape.reduce(4, *), error: nil))
    }
    guard !images.isEmpty else { return rows }
    let quantized = rows.filter { $0.type == precision.rawValue }.map(\.layer)
    let float = try Evaluation.model(of: model, name: "float", threads: threads, source: source)
    let reference = try Evaluation.outputs(float, images: images)
    let width = float.outputWidth
    let progress = Progress("measuring each layer's quantization error", total: quantized.count, unit: "layers")
    for (i, row) in rows.enumerated() where row.type == precision.rawValue {
      var alone = quantization
      alone.keepFloat = quantized.filter { $0 != row.layer }
      let m = try Evaluation.model(of: model, name: row.layer, threads: threads, source: source, weights: (precision, alone))
      let f = Fidelity.compare(try Evaluation.outputs(m, images: images), reference: reference, width: width, classifier: false)
      rows[i].error = 1 - f.meanCosine
      progress.advance()
    }
    progress.finish()
    return rows
  }
}
