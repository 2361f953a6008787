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

  /// `paths` as batches of up to `size` images, in order (each with its image count).
  static func batches(paths: [String], preprocessing p: Manifest.Preprocessing, size: Int = 8)
    throws(CompileError) -> [(values: [Float], images: Int)]
  {
    var out: [(values: [Float], images: Int)] = []
    for start in stride(from: 0, to: paths.count, by: size) {
      let chunk = Array(paths[start..<min(paths.count, start + size)])
      out.append((try batch(paths: chunk, preprocessing: p), chunk.count))
    }
    return out
  }
}
