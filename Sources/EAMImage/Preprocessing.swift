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

  public init(resizeShorterSide: Int, cropSize: Int, mean: [Float], std: [Float],
              interpolation: Interpolation = .bicubic) {
    precondition(resizeShorterSide > 0 && cropSize > 0 && cropSize <= resizeShorterSide,
                 "Preprocessing: need 0 < cropSize <= resizeShorterSide")
    precondition(mean.count == 3 && std.count == 3, "Preprocessing: mean and std need 3 values")
    self.resizeShorterSide = resizeShorterSide
    self.cropSize = cropSize
    self.mean = mean
    self.std = std
    self.interpolation = interpolation
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
