/// Resampling filters, as in PIL (`Image.BICUBIC` with a = -0.5, `Image.BILINEAR` = triangle).
public enum Interpolation: Sendable, Equatable {
  case bicubic
  case bilinear

  /// Filter radius at scale 1.
  var support: Double {
    switch self {
    case .bicubic: return 2
    case .bilinear: return 1
    }
  }

  /// Filter weight at distance `x`.
  @inline(__always)
  func weight(_ x: Double) -> Double {
    let x = abs(x)
    switch self {
    case .bicubic:
      let a = -0.5
      if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
      if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
      return 0
    case .bilinear:
      return x < 1 ? 1 - x : 0
    }
  }
}

/// Per-output-sample convolution taps along one axis, in PIL's 8-bit fixed-point format.
///
/// For output sample `o`, the input centre is `(o + 0.5) * scale`; when downscaling the filter
/// is stretched by `scale` (antialiasing), when upscaling it keeps its natural support. Taps
/// cover `[Int(center - support + 0.5), Int(center + support + 0.5))` clipped to the input,
/// weights are normalised to sum to 1 in double precision, then rounded (half away from zero)
/// to integers with `fractionBits` fractional bits.
struct ResampleTaps {
  static let fractionBits = 22  // 32 - 8 (sample bits) - 2 (headroom)

  /// The output samples whose taps were computed (a crop window's, or all of them): the cost is
  /// proportional to these, not to the whole output, which an extreme aspect ratio makes huge
  /// (a 29746x1 image resized to a shorter side of 256 is 7.6 million columns wide).
  let outputs: Range<Int>
  /// First input index of each covered output sample's taps.
  private var starts: [Int]
  /// Number of taps of each covered output sample.
  private var counts: [Int]
  /// `outputs.count * stride` weights; row `o - outputs.lowerBound` holds `count(o)` used entries.
  var weights: [Int32]
  var stride: Int

  init(inputSize: Int, outputSize: Int, filter: Interpolation, outputs: Range<Int>? = nil) {
    let outputs = outputs ?? 0..<outputSize
    self.outputs = outputs
    let scale = Double(inputSize) / Double(outputSize)
    let filterScale = max(scale, 1)
    let support = filter.support * filterScale
    stride = Int(support.rounded(.up)) * 2 + 1
    starts = []
    counts = []
    starts.reserveCapacity(outputs.count)
    counts.reserveCapacity(outputs.count)
    weights = [Int32](repeating: 0, count: outputs.count * stride)
    let inverseScale = 1 / filterScale
    let one = Double(1 << Self.fractionBits)
    var taps = [Double](repeating: 0, count: stride)
    for (row, o) in outputs.enumerated() {
      let center = (Double(o) + 0.5) * scale
      let first = max(Int(center - support + 0.5), 0)
      let end = min(Int(center + support + 0.5), inputSize)
      let n = end - first
      var total = 0.0
      for j in 0..<n {
        let w = filter.weight((Double(j + first) - center + 0.5) * inverseScale)
        taps[j] = w
        total += w
      }
      for j in 0..<n {
        let w = total != 0 ? taps[j] / total : taps[j]
        weights[row * stride + j] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
      }
      starts.append(first)
      counts.append(n)
    }
  }

  /// First input index of output sample `o`'s taps (`o` in `outputs`).
  func start(_ o: Int) -> Int { starts[o - outputs.lowerBound] }
  /// Number of taps of output sample `o`.
  func count(_ o: Int) -> Int { counts[o - outputs.lowerBound] }
  /// Index in `weights` of output sample `o`'s first weight.
  func weightsOffset(_ o: Int) -> Int { (o - outputs.lowerBound) * stride }
}

/// Separable 8-bit resampling identical to PIL's `Image.resize` for RGB images: a horizontal
/// pass into an 8-bit intermediate (rounded and clamped), then a vertical pass (rounded and
/// clamped). A pass is skipped when its axis keeps its size.
public enum Resampler {
  /// Resizes `image` to `width` x `height`.
  public static func resize(_ image: RGBImage, width: Int, height: Int,
                            filter: Interpolation) -> RGBImage {
    resize(image, width: width, height: height, filter: filter,
           window: (x: 0, y: 0, width: width, height: height))
  }

  /// Resizes `image` to `width` x `height` but only computes the output pixels inside `window`
  /// (e.g. a centre crop). Each output pixel depends only on its own taps, so this equals
  /// resizing fully and cropping afterwards.
  public static func resize(_ image: RGBImage, width: Int, height: Int, filter: Interpolation,
                            window: (x: Int, y: Int, width: Int, height: Int)) -> RGBImage {
    precondition(width > 0 && height > 0 && image.width > 0 && image.height > 0)
    precondition(window.x >= 0 && window.y >= 0 && window.width >= 0 && window.height >= 0
                 && window.x + window.width <= width && window.y + window.height <= height)
    // Rows of the input the vertical pass will read.
    let vertical = height != image.height
      ? ResampleTaps(inputSize: image.height, outputSize: height, filter: filter,
                     outputs: window.y..<(window.y + window.height)) : nil
    var firstRow = window.y, endRow = window.y + window.height
    if let v = vertical, window.height > 0 {
      firstRow = v.start(window.y)
      endRow = 0
      for o in window.y..<(window.y + window.height) {
        firstRow = min(firstRow, v.start(o))
        endRow = max(endRow, v.start(o) + v.count(o))
      }
    }
    let rows = max(endRow - firstRow, 0)

    // Horizontal pass over the needed rows, window columns only.
    var band: [UInt8]
    if width != image.width {
      let taps = ResampleTaps(inputSize: image.width, outputSize: width, filter: filter,
                              outputs: window.x..<(window.x + window.width))
      band = horizontal(image, rows: firstRow..<(firstRow + rows), columns: window.x..<(window.x + window.width), taps: taps)
    } else {
      band = [UInt8](repeating: 0, count: rows * window.width * 3)
      for r in 0..<rows {
        let src = ((firstRow + r) * image.width + window.x) * 3
        band[(r * window.width * 3)..<((r + 1) * window.width * 3)] =
          image.pixels[src..<(src + window.width * 3)]
      }
    }
    guard let v = vertical else {
      return RGBImage(width: window.width, height: window.height, pixels: band)
    }
    let pixels = verticalPass(band, rowOffset: firstRow, rowLength: window.width * 3,
                              outputs: window.y..<(window.y + window.height), taps: v)
    return RGBImage(width: window.width, height: window.height, pixels: pixels)
  }

  @inline(__always)
  static func clampToByte(_ accumulator: Int32) -> UInt8 {
    UInt8(clamping: accumulator >> Int32(ResampleTaps.fractionBits))
  }

  static let rounding = Int32(1 << (ResampleTaps.fractionBits - 1))

  static func horizontal(_ image: RGBImage, rows: Range<Int>, columns: Range<Int>,
                         taps: ResampleTaps) -> [UInt8] {
    let outWidth = columns.count
    return [UInt8](unsafeUninitializedCapacity: rows.count * outWidth * 3) { out, initialized in
      image.pixels.withUnsafeBufferPointer { src in
        taps.weights.withUnsafeBufferPointer { weights in
          for (r, y) in rows.enumerated() {
            let inRow = src.baseAddress! + y * image.width * 3
            let outRow = out.baseAddress! + r * outWidth * 3
            for (c, x) in columns.enumerated() {
              let k = weights.baseAddress! + taps.weightsOffset(x)
              var p = inRow + taps.start(x) * 3
              var red = rounding, green = rounding, blue = rounding
              for j in 0..<taps.count(x) {
                let w = k[j]
                red = red &+ Int32(p[0]) &* w
                green = green &+ Int32(p[1]) &* w
                blue = blue &+ Int32(p[2]) &* w
                p += 3
              }
              outRow[3 * c] = clampToByte(red)
              outRow[3 * c + 1] = clampToByte(green)
              outRow[3 * c + 2] = clampToByte(blue)
            }
          }
        }
      }
      initialized = rows.count * outWidth * 3
    }
  }

  static func verticalPass(_ band: [UInt8], rowOffset: Int, rowLength: Int, outputs: Range<Int>,
                           taps: ResampleTaps) -> [UInt8] {
    var accumulator = [Int32](repeating: 0, count: rowLength)
    return [UInt8](unsafeUninitializedCapacity: outputs.count * rowLength) { out, initialized in
      band.withUnsafeBufferPointer { src in
        accumulator.withUnsafeMutableBufferPointer { acc in
          for (r, o) in outputs.enumerated() {
            for i in 0..<rowLength { acc[i] = rounding }
            for j in 0..<taps.count(o) {
              let w = taps.weights[taps.weightsOffset(o) + j]
              let row = src.baseAddress! + (taps.start(o) + j - rowOffset) * rowLength
              for i in 0..<rowLength { acc[i] = acc[i] &+ Int32(row[i]) &* w }
            }
            let outRow = out.baseAddress! + r * rowLength
            for i in 0..<rowLength { outRow[i] = clampToByte(acc[i]) }
          }
        }
      }
      initialized = outputs.count * rowLength
    }
  }
}
