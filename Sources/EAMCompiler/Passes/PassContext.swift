import EAMRuntime

/// What a pass may read while it runs, and where it records what it did.
public struct PassContext {
  /// The checkpoint being compiled, for messages.
  public let source: String
  public let options: CompileOptions
  /// The model as recognised, before any pass: the model that `floatModel` runs and that
  /// `statistics` describe (statistics layer `l` is its `l`-th block with attention).
  public let recognised: ModelDescription
  /// The float model in the runtime, for measurements (e.g. on calibration images).
  public let floatModel: Model
  /// Merged calibration statistics; nil when no pass of the compile needs them.
  public let statistics: AttentionStatistics?
  /// What the running pass did, for the report (a fresh record per pass).
  public var record: PassRecord
  /// Controls the running pass asks to be measured beside the compiled model on the held-out
  /// images (the pipeline runs the later passes over them too).
  public var controls: [Control] = []

  public init(source: String, options: CompileOptions, recognised: ModelDescription, floatModel: Model,
              statistics: AttentionStatistics?, record: PassRecord = PassRecord(name: "")) {
    self.source = source
    self.options = options
    self.recognised = recognised
    self.floatModel = floatModel
    self.statistics = statistics
    self.record = record
  }
}
