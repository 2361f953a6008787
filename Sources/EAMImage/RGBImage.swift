/// An 8-bit RGB image, pixels interleaved row-major (`R G B R G B ...`), no row padding.
public struct RGBImage: Equatable, Sendable {
  /// Width in pixels.
  public var width: Int
  /// Height in pixels.
  public var height: Int
  /// `width * height * 3` samples.
  public var pixels: [UInt8]

  /// Wraps existing samples; `pixels.count` must be `width * height * 3`.
  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                 "RGBImage: \(pixels.count) samples for \(width)x\(height)")
    self.width = width
    self.height = height
    self.pixels = pixels
  }
}
