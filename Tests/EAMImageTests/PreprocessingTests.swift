import Foundation
import Testing

@testable import EAMImage

/// Resize + crop + normalisation checked against torchvision/timm on PIL images (expected values
/// from `scripts/make_image_fixtures.py`).
@Suite struct PreprocessingTests {
  static let mean: [Float] = [0.485, 0.456, 0.406]
  static let std: [Float] = [0.229, 0.224, 0.225]

  /// Every calib image, every configuration in `calib.tsv` (one test case per configuration):
  /// the uint8 Resize+CenterCrop output equals torchvision's (checksum of the whole crop).
  @Test(arguments: 0..<8)
  func calibCropsMatchTorchvision(_ index: Int) throws {
    let rows = try CalibTable.load()
    let configs = try CalibTable.configs()
    try #require(configs.count == 8)
    let config = configs[index]
    let p = Preprocessing(resizeShorterSide: config.resize, cropSize: config.crop,
                          mean: Self.mean, std: Self.std, interpolation: config.interpolation)
    var exact = 0
    for row in rows {
      let image = try ImageDecoder.decode(path: Fixtures.calibDirectory + "/" + row.name)
      let crop = p.resizeAndCrop(image)
      let sum = crop.pixels.reduce(0) { $0 + UInt64($1) }
      let ok = checksum(crop.pixels) == row.crops[index].checksum
      #expect(ok, "\(row.name) \(config): crop differs (sum \(sum) vs \(row.crops[index].sum))")
      if ok { exact += 1 }
    }
    print("resize \(config.resize) crop \(config.crop) \(config.interpolation): \(exact)/\(rows.count) calib images bit-exact with torchvision+PIL")
  }

  static let fullCrops = [
    "scikit-image-camera.png.224-224-bicubic", "mate-backgrounds-Elephants.jpg.224-224-bicubic",
    "scikit-image-camera.png.97-64-bicubic", "opencv-doc-peilin_shape.png.97-64-bicubic",
    "opencv-doc-stanford.png.97-64-bicubic", "mate-backgrounds-Elephants.jpg.97-64-bicubic",
  ]

  /// Full arrays for a few images, so a mismatch reports its size.
  @Test(arguments: fullCrops)
  func fullCropMatches(_ fixture: String) throws {
    let parts = fixture.split(separator: ".")
    let name = parts.dropLast().joined(separator: ".")
    let cfg = parts.last!.split(separator: "-")
    let image = try ImageDecoder.decode(path: Fixtures.calibDirectory + "/" + name)
    let p = Preprocessing(resizeShorterSide: Int(cfg[0])!, cropSize: Int(cfg[1])!,
                          mean: Self.mean, std: Self.std, interpolation: .bicubic)
    let crop = p.resizeAndCrop(image)
    let expected = try NPYArray(path: Fixtures.path("crop/\(fixture).npy"))
    #expect(expected.shape == [crop.height, crop.width, 3])
    let diff = compare(crop.pixels, expected.uint8)
    #expect(diff.differing == 0, "\(fixture): \(diff.differing) samples differ, max |diff| \(diff.maxDiff)")
  }

  /// End to end against timm's own eval transform (crop_pct 0.875, bicubic, 224).
  @Test func timmEvalTransform() throws {
    let image = try ImageDecoder.decode(path: Fixtures.calibDirectory + "/scikit-image-chelsea.jpg")
    let output = preprocess(image, .imagenet224)
    let expected = try NPYArray(path: Fixtures.path("timm_scikit-image-chelsea.npy"))
    #expect(expected.shape == [3, 224, 224])
    try expectClose(output, expected.float32)
  }

  /// Upscaling a 37x23 image (support not stretched) with an odd crop margin.
  @Test func smallImageUpscale() throws {
    let image = try ImageDecoder.decode(path: Fixtures.path("decode/q90-420.jpg"))
    let p = Preprocessing(resizeShorterSide: 50, cropSize: 37, mean: Self.mean, std: Self.std)
    #expect(p.resizedSize(width: 37, height: 23) == (80, 50))
    let expected = try NPYArray(path: Fixtures.path("small_upscale.npy"))
    #expect(expected.shape == [3, 37, 37])
    try expectClose(preprocess(image, p), expected.float32)
  }

  func expectClose(_ a: [Float], _ b: [Float]) throws {
    try #require(a.count == b.count)
    var maxDiff: Float = 0, exact = 0
    for (x, y) in zip(a, b) {
      maxDiff = max(maxDiff, abs(x - y))
      if x.bitPattern == y.bitPattern { exact += 1 }
    }
    #expect(maxDiff <= 1e-6, "max |diff| \(maxDiff)")
    #expect(exact == a.count, "\(a.count - exact) of \(a.count) floats not bit-identical")
  }

  @Test func sizeConventions() {
    let p = Preprocessing(resizeShorterSide: 256, cropSize: 224, mean: Self.mean, std: Self.std)
    #expect(p.resizedSize(width: 500, height: 375) == (341, 256))  // 341.33 truncated
    #expect(p.resizedSize(width: 375, height: 500) == (256, 341))
    #expect(p.resizedSize(width: 256, height: 256) == (256, 256))
    #expect(p.cropOrigin(width: 341, height: 256) == (58, 16))  // 58.5 -> 58 (half to even)
    #expect(p.cropOrigin(width: 227, height: 229) == (2, 2))  // 1.5 -> 2, 2.5 -> 2
  }

  /// Windowed resize equals full resize followed by cropping.
  @Test func windowEqualsFullThenCrop() {
    var pixels = [UInt8](repeating: 0, count: 53 * 41 * 3)
    for i in pixels.indices { pixels[i] = UInt8((i * 37 + i / 7) % 256) }
    let image = RGBImage(width: 53, height: 41, pixels: pixels)
    for (w, h) in [(20, 17), (80, 90), (53, 30), (31, 41)] {
      let full = Resampler.resize(image, width: w, height: h, filter: .bicubic)
      let window = (x: w / 3, y: h / 4, width: w / 2, height: h / 2)
      let part = Resampler.resize(image, width: w, height: h, filter: .bicubic, window: window)
      var expected: [UInt8] = []
      for y in window.y..<(window.y + window.height) {
        let s = (y * w + window.x) * 3
        expected += full.pixels[s..<(s + window.width * 3)]
      }
      #expect(part.pixels == expected)
    }
  }

  /// Found by fuzz-jpeg: a 29746x1 image resized to a shorter side of 256 is 7.6 million columns
  /// wide; the filter taps were computed for every column (150 MB, seconds under ASan) although
  /// only the 224 of the crop are used. They are now computed for the window only.
  @Test func extremeAspectRatioCostsOnlyTheCrop() {
    let image = RGBImage(width: 29746, height: 1, pixels: (0..<(29746 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    let p = Preprocessing.imagenet224
    #expect(p.resizedSize(width: image.width, height: image.height) == (7_614_976, 256))
    let cropped = p.resizeAndCrop(image)
    #expect(cropped.width == 224 && cropped.height == 224)
    let taps = ResampleTaps(inputSize: 29746, outputSize: 7_614_976, filter: .bicubic, outputs: 3_807_376..<3_807_600)
    #expect(taps.weights.count == 224 * taps.stride)
  }
}
