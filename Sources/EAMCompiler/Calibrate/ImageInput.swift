import EAMFormat
import EAMImage

/// Decodes and preprocesses images as an artifact's manifest says.
public enum ImageInput {
  /// The preprocessing of a manifest, in EAMImage's terms.
  public static func preprocessing(_ p: Manifest.Preprocessing) throws(PreprocessingError) -> Preprocessing {
    try Preprocessing.validated(resizeShorterSide: p.resizeShorterSide, cropSize: p.cropSize, mean: p.mean, std: p.std,
                                interpolation: p.interpolation == .bilinear ? .bilinear : .bicubic)
  }

  /// One image as model input (CHW float32).
  public static func load(path: String, preprocessing p: Manifest.Preprocessing) throws(CompileError) -> [Float] {
    let settings: Preprocessing
    do throws(PreprocessingError) { settings = try preprocessing(p) } catch {
      throw CompileError("\(path): cannot be prepared: the model's preprocessing is unusable: \(error)")
    }
    do throws(ImageError) {
      return preprocess(try ImageDecoder.decode(path: path), settings)
    } catch {
      throw CompileError(error.description)
    }
  }

  /// Several images as one NCHW batch.
  public static func batch(paths: [String], preprocessing p: Manifest.Preprocessing) throws(CompileError) -> [Float] {
    var out: [Float] = []
    for path in paths { out += try load(path: path, preprocessing: p) }
    return out
  }
}
