/// One transform of the compiler's pipeline: model description in, model description out.
///
/// A new pass is one type conforming to this protocol, in its own file, and one line in
/// `Pipeline.passes(for:)`. It reads what it needs from the context (the calibration statistics,
/// the float model for measurements, the options) and records there what it did; the report
/// takes every pass's record from one place (`CompileReport.passes`).
public protocol CompilerPass {
  /// The pass's key in the report (its section, e.g. `"eam": {...}`).
  var name: String { get }
  /// Whether the compile must gather attention statistics (merged shards or a calibration run)
  /// before this pass runs.
  var needsStatistics: Bool { get }
  /// Refuses settings or a model the pass cannot handle, before anything costly runs.
  func check(_ model: ModelDescription, source: String) throws(CompileError)
  /// The transform. `model` is what the passes before this one produced.
  func apply(_ model: ModelDescription, _ context: inout PassContext) throws(CompileError) -> ModelDescription
}

extension CompilerPass {
  public func check(_ model: ModelDescription, source: String) throws(CompileError) {}
}
