import EAMFormat

/// Everything about a compile that goes into the artifact besides the model.
public struct EmitSettings: Sendable {
  public var precision: WeightPrecision = .f32
  /// int8 and int4: which layers and how.
  public var quantization = WeightQuantization()
  /// Sections that ask for zstd get it where it makes them smaller; false stores every section
  /// as the runtime reads it (a device runtime built without zstd).
  public var compress = true
  /// Normalised command-line flags, recorded in the manifest.
  public var arguments: [String] = []
  public var sourceName = ""
  public var sourceFormat = ""
  public var sourceSHA256 = ""
  public var calibration = Manifest.Calibration()
  public var entropy: [Manifest.EntropyTable] = []
  public init() {}
}

/// Writes a model description as `.eam` bytes.
public enum Emitter {
  public static let producerVersion = "0.1.0"

  public static func manifest(for model: ModelDescription, weights: [Manifest.Weight], settings: EmitSettings) -> Manifest {
    var m = Manifest()
    m.producer = .init(name: "eamc", version: producerVersion)
    m.architecture = model.architecture
    m.preprocessing = model.preprocessing
    m.blocks = model.blocks
    m.weights = weights
    m.compile.arguments = settings.arguments
    m.compile.sourceName = settings.sourceName
    m.compile.sourceFormat = settings.sourceFormat
    m.compile.sourceSHA256 = settings.sourceSHA256
    m.calibration = settings.calibration
    m.entropy = settings.entropy
    return m
  }

  public static func artifact(for model: ModelDescription, settings: EmitSettings) throws(FormatError) -> [UInt8] {
    var (sections, weights) = try Lowering.sections(for: model, precision: settings.precision,
                                                    quantization: settings.quantization)
    if !settings.compress { for i in sections.indices { sections[i].compression = .none } }
    return try ArtifactWriter.encode(manifest: manifest(for: model, weights: weights, settings: settings),
                                     sections: sections)
  }
}
