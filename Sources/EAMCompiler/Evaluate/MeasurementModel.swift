import EAMFormat
import EAMRuntime

extension Evaluation {
  /// A model description laid out as a float32 artifact in memory and loaded in the runtime, for
  /// measurements (the compiled artifact's own weight type is not used: figures compare like
  /// with like).
  static func model(of description: ModelDescription, name: String, threads: Int?, source: String)
    throws(CompileError) -> Model
  {
    let bytes: [UInt8]
    do throws(FormatError) { bytes = try Emitter.artifact(for: description, settings: EmitSettings()) } catch {
      throw CompileError("\(source): \(error.message)")
    }
    return try model(bytes: bytes, name: name, threads: threads)
  }
}
