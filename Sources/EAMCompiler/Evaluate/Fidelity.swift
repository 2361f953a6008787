import EAMFormat
import EAMRuntime

/// How closely a compiled model follows a reference model on the same inputs.
public struct Fidelity: Sendable {
  public var images = 0
  /// Cosine similarity of each image's output to the reference's.
  public var cosines: [Double] = []
  /// ‖out − ref‖ / ‖ref‖ per image.
  public var relativeErrors: [Double] = []
  /// Classifiers: fraction of images whose top-1 class agrees; nil for feature outputs.
  public var top1Agreement: Double?

  public var meanCosine: Double { cosines.isEmpty ? 0 : cosines.reduce(0, +) / Double(cosines.count) }
  public var minCosine: Double { cosines.min() ?? 0 }
  public var meanRelativeError: Double { relativeErrors.isEmpty ? 0 : relativeErrors.reduce(0, +) / Double(relativeErrors.count) }

  public init() {}

  /// Compares outputs image by image (`width` values each).
  public static func compare(_ out: [Float], reference ref: [Float], width: Int, classifier: Bool) -> Fidelity {
    var f = Fidelity()
    f.images = out.count / width
    var agree = 0
    for i in 0..<f.images {
      var dot = 0.0, na = 0.0, nb = 0.0, diff = 0.0
      var argA = 0, argB = 0
      for j in 0..<width {
        let a = Double(out[i * width + j]), b = Double(ref[i * width + j])
        dot += a * b; na += a * a; nb += b * b; diff += (a - b) * (a - b)
        if out[i * width + j] > out[i * width + argA] { argA = j }
        if ref[i * width + j] > ref[i * width + argB] { argB = j }
      }
      f.cosines.append(na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : (na == nb ? 1 : 0))
      f.relativeErrors.append(nb > 0 ? diff.squareRoot() / nb.squareRoot() : diff.squareRoot())
      if argA == argB { agree += 1 }
    }
    if classifier { f.top1Agreement = f.images > 0 ? Double(agree) / Double(f.images) : nil }
    return f
  }

  public var json: JSON {
    .object([
      ("images", .int(images)), ("mean_cosine", .number(meanCosine)), ("min_cosine", .number(minCosine)),
      ("mean_relative_error", .number(meanRelativeError)),
      ("top1_agreement", top1Agreement.map { .number($0) } ?? .null),
    ])
  }
}

/// Runs images through models, batch by batch.
public enum Evaluation {
  /// Outputs of `model` for the images, `batch` at a time.
  public static func outputs(_ model: Model, images: [String], batch: Int = 8, progress: Progress? = nil)
    throws(CompileError) -> [Float]
  {
    var out: [Float] = []
    var i = 0
    while i < images.count {
      let chunk = Array(images[i..<min(images.count, i + batch)])
      let input = try ImageInput.batch(paths: chunk, preprocessing: model.manifest.preprocessing)
      do throws(RuntimeError) { out += try model.run(input, batch: chunk.count) } catch { throw CompileError(error.description) }
      i += batch
      progress?.advance(chunk.count)
    }
    progress?.finish()
    return out
  }

  /// Loads an artifact laid out in memory.
  public static func model(bytes: [UInt8], name: String, threads: Int? = nil) throws(CompileError) -> Model {
    var options = LoadOptions()
    if let threads { options.threads = threads }
    let artifact: Artifact
    do throws(FormatError) { artifact = try Artifact(bytes: bytes, name: name) } catch { throw CompileError(error.description) }
    do throws(RuntimeError) { return try Model(artifact: artifact, options: options) } catch { throw CompileError(error.description) }
  }

  /// `eamc eval`: a compiled artifact against the float checkpoint it came from.
  public static func evaluate(artifact: String, reference: String, images: [String], threads: Int? = nil)
    throws(CompileError) -> Fidelity
  {
    var options = LoadOptions()
    if let threads { options.threads = threads }
    let compiled: Model
    do throws(RuntimeError) { compiled = try Model(path: artifact, options: options) } catch { throw CompileError(error.description) }
    let m = compiled.manifest
    var overrides = ModelOverrides()
    overrides.heads = m.blocks.first?.heads
    overrides.resizeShorterSide = m.preprocessing.resizeShorterSide
    overrides.mean = m.preprocessing.mean
    overrides.std = m.preprocessing.std
    let (_, description) = try Compiler.load(reference, overrides: overrides)
    let bytes: [UInt8]
    do throws(FormatError) { bytes = try Emitter.artifact(for: description, settings: EmitSettings()) } catch {
      throw CompileError("\(reference): \(error.message)")
    }
    let floatModel = try model(bytes: bytes, name: reference, threads: threads)
    guard floatModel.outputWidth == compiled.outputWidth, floatModel.inputShape == compiled.inputShape else {
      throw CompileError("\(reference): not the model \(artifact) was compiled from (output \(floatModel.outputWidth) vs \(compiled.outputWidth))")
    }
    let a = try outputs(compiled, images: images)
    let b = try outputs(floatModel, images: images)
    return Fidelity.compare(a, reference: b, width: compiled.outputWidth, classifier: m.architecture.numClasses > 0)
  }
}
