import Testing

@testable import EAMImage

/// Settings outside their domain are refused with one line (never a trap or NaN output).
@Suite struct PreprocessingDomainTests {
  static let mean: [Float] = [0.485, 0.456, 0.406]
  static let std: [Float] = [0.229, 0.224, 0.225]

  /// (resize, crop, mean, std, fragment of the message)
  static let bad: [(Int, Int, [Float], [Float], String)] = [
    (256, 0, mean, std, "crop 0 must be at least 1"),
    (256, -3, mean, std, "crop -3 must be at least 1"),
    (100, 224, mean, std, "crop 224 is larger than the resize 100"),
    (0, 224, mean, std, "resize 0 is outside 1…8192"),
    (-1, 1, mean, std, "resize -1 is outside"),
    (8193, 224, mean, std, "resize 8193 is outside 1…8192"),
    (Int.max, 224, mean, std, "resize \(Int.max) is outside"),
    (256, 224, [0.5, 0.5], std, "mean has 2 values; the images have 3 channels"),
    (256, 224, mean, [0.2, 0.2, 0.2, 0.2], "std has 4 values"),
    (256, 224, mean, [], "std has 0 values"),
    (256, 224, mean, [0.229, 0, 0.225], "std 0.0 (channel 1) must be a positive finite number"),
    (256, 224, mean, [-0.2, 0.2, 0.2], "std -0.2 (channel 0) must be a positive"),
    (256, 224, mean, [0.2, 0.2, .nan], "std nan (channel 2)"),
    (256, 224, mean, [.infinity, 0.2, 0.2], "std inf (channel 0)"),
    (256, 224, [.nan, 0, 0], std, "mean nan (channel 0) is not a finite number"),
    (256, 224, [0, -.infinity, 0], std, "mean -inf (channel 1)"),
    (256, 224, mean, [.leastNormalMagnitude / 1024, 0.2, 0.2], "make normalised values overflow"),
    (256, 224, [3e38, 0, 0], [0.1, 1, 1], "make normalised values overflow"),
  ]

  @Test(arguments: bad.indices)
  func outOfDomainIsRefused(_ i: Int) {
    let (resize, crop, mean, std, fragment) = Self.bad[i]
    #expect {
      _ = try Preprocessing.validated(resizeShorterSide: resize, cropSize: crop, mean: mean, std: std)
    } throws: { error in
      let text = "\(error)"
      return text.contains(fragment) && !text.contains("\n")
    }
  }

  /// The edges of the domain are accepted and give finite values.
  @Test func edgesAreAccepted() throws {
    for (resize, crop) in [(1, 1), (8192, 8192), (224, 224), (256, 1)] {
      let p = try Preprocessing.validated(resizeShorterSide: resize, cropSize: crop, mean: Self.mean, std: Self.std)
      #expect(p.cropSize == crop)
    }
    let tiny = try Preprocessing.validated(resizeShorterSide: 2, cropSize: 2, mean: [1, 0, -1], std: [1e-30, 1e30, 1])
    let image = RGBImage(width: 3, height: 2, pixels: [UInt8](repeating: 255, count: 18))
    let values = preprocess(image, tiny)
    #expect(values.count == 12 && values.allSatisfy { $0.isFinite })
  }
}
