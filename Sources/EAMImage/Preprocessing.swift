/// timm / torchvision evaluation preprocessing:
/// `Resize(resizeShorterSide, interpolation)` → `CenterCrop(cropSize)` → `ToTensor()` →
/// `Normalize(mean, std)`, on a PIL RGB image.
public struct Preprocessing: Sendable, Equatable {
  /// Target length of the shorter side; the longer side becomes
  /// `Int(resizeShorterSide * long / short)` (truncated, as torchvision does).
  public var resizeShorterSide: Int
  /// Side of the square centre crop; at most `resizeShorterSide`.
  public var cropSize: Int
  /// Per-channel (R, G, B) mean, subtracted after scaling to [0, 1].
  public var mean: [Float]
  /// Per-channel (R, G, B) standard deviation, divided by after subtracting the mean.
  public var std: [Float]
  /// Resampling filter of the resize.
  public var interpolation: Interpolation

  /// Settings known to be valid (constants); values from a file or a user go through
  /// `validated`, which refuses bad ones with a message instead of stopping the process.
  public init(resizeShorterSide: Int, cropSize: Int, mean: [Float], std: [Float],
              interpolation: Interpolation = .bicubic) {
    let problem: PreprocessingError?
    do throws(PreprocessingError) {
      try Self.check(resizeShorterSide: resizeShorterSide, cropSize: cropSize, mean: mean, std: std)
      problem = nil
    } catch {
      problem = error
    }
    precondition(problem == nil, "Preprocessing: \(problem?.description ?? "")")
    self.resizeShorterSide = resizeShorterSide
    self.cropSize = cropSize
    self.mean = mean
    self.std = std
    self.interpolation = interpolation
  }

  /// The settings if every value is in its domain (see `check`).
  public static func validated(resizeShorterSide: Int, cropSize: Int, mean: [Float], std: [Float],
                               interpolation: Interpolation = .bicubic) throws(PreprocessingError) -> Preprocessing {
    try check(resizeShorterSide: resizeShorterSide, cropSize: cropSize, mean: mean, std: std)
    return Preprocessing(resizeShorterSide: resizeShorterSide, cropSize: cropSize, mean: mean, std: std,
                         interpolation: interpolation)
  }

  /// Channels of the images (RGB): the count of `mean` and `std` values.
  public static let channels = 3
  /// Largest resize (shorter side, pixels): 8192 already makes a 201 MB crop buffer, far beyond
  /// any ViT input (224–518).
  public static let maxSide = 8192

  /// The domain of every setting: 1 ≤ crop ≤ resize ≤ `maxSide`; three finite means; three
  /// finite, positive standard deviations such that every normalised value `(v/255 − mean)/std`
  /// is finite (a std of 1e-40 divides into ±∞).
  public static func check(resizeShorterSide: Int, cropSize: Int, mean: [Float], std: [Float])
    throws(PreprocessingError)
  {
    guard resizeShorterSide >= 1, resizeShorterSide <= maxSide else {
      throw PreprocessingError("resize \(resizeShorterSide) is outside 1…\(maxSide) pixels")
    }
    guard cropSize >= 1 else { throw PreprocessingError("crop \(cropSize) must be at least 1 pixel") }
    guard cropSize <= resizeShorterSide else {
      throw PreprocessingError("crop \(cropSize) is larger than the resize \(resizeShorterSide) (the shorter side after resizing)")
    }
    for (name, values) in [("mean", mean), ("std", std)] where values.count != channels {
      throw PreprocessingError("\(name) has \(values.count) values; the images have \(channels) channels (R, G, B)")
    }
    for c in 0..<channels {
      guard mean[c].isFinite else { throw PreprocessingError("mean \(mean[c]) (channel \(c)) is not a finite number") }
      guard std[c].isFinite, std[c] > 0 else {
        throw PreprocessingError("std \(std[c]) (channel \(c)) must be a positive finite number")
      }
      // The normalised values are linear in v: the extremes are at v = 0 and v = 255.
      for v: Float in [0, 255] where !((v / 255 - mean[c]) / std[c]).isFinite {
        throw PreprocessingError("mean \(mean[c]) and std \(std[c]) (channel \(c)) make normalised values overflow")
      }
    }
  }

  /// ImageNet evaluation at 224: Resize(256, bicubic), CenterCrop(224), ImageNet mean/std.
  public static let imagenet224 = Preprocessing(
    resizeShorterSide: 256, cropSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

  /// Size after the resize, as torchvision computes it (`(width, height)`).
  public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
    let short = min(width, height), long = max(width, height)
    // Python: int(size * long / short); the product is exact, the division correctly rounded.
    let newLong = Int(Double(resizeShorterSide * long) / Double(short))
    return width <= height ? (resizeShorterSide, newLong) : (newLong, resizeShorterSide)
  }

  /// Top-left corner of the centre crop in an image of the given size:
  /// `int(round((size - crop) / 2.0))` with Python's round-half-to-even.
  public func cropOrigin(width: Int, height: Int) -> (x: Int, y: Int) {
    func origin(_ size: Int) -> Int { Int((Double(size - cropSize) / 2).rounded(.toNearestOrEven)) }
    return (origin(width), origin(height))
  }

  /// Resize + centre crop, still 8-bit (identical to PIL's pixels at that stage). Only the
  /// cropped pixels are computed.
  public func resizeAndCrop(_ image: RGBImage) -> RGBImage {
    let size = resizedSize(width: image.width, height: image.height)
    let origin = cropOrigin(width: size.width, height: size.height)
    return Resampler.resize(image, width: size.width, height: size.height, filter: interpolation,
                            window: (x: origin.x, y: origin.y, width: cropSize, height: cropSize))
  }

  /// `ToTensor()` + `Normalize(mean, std)`: CHW float32, `(v / 255 - mean[c]) / std[c]`, each
  /// step rounded to float32 like torch does.
  public func normalize(_ image: RGBImage) -> [Float] {
    let plane = image.width * image.height
    var table = [Float](repeating: 0, count: 3 * 256)
    for c in 0..<3 {
      for v in 0..<256 { table[c * 256 + v] = (Float(v) / 255 - mean[c]) / std[c] }
    }
    return [Float](unsafeUninitializedCapacity: 3 * plane) { out, initialized in
      image.pixels.withUnsafeBufferPointer { src in
        table.withUnsafeBufferPointer { lut in
          for c in 0..<3 {
            let channel = lut.baseAddress! + c * 256
            let dst = out.baseAddress! + c * plane
            for i in 0..<plane { dst[i] = channel[Int(src[3 * i + c])] }
          }
        }
      }
      initialized = 3 * plane
    }
  }
}

/// Full evaluation preprocessing of a decoded image: CHW float32 `[3 * crop * crop]`.
public func preprocess(_ image: RGBImage, _ p: Preprocessing) -> [Float] {
  p.normalize(p.resizeAndCrop(image))
}

/// Why preprocessing settings cannot be used: one line, e.g. `crop 224 is larger than the
/// resize 100 (the shorter side after resizing)`.
public struct PreprocessingError: Error, CustomStringConvertible, Sendable, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}
