import CJPEG

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// JPEG decoding through libjpeg(-turbo) with its default settings (ISLOW IDCT, fancy
/// upsampling), which is what PIL uses; results are bit-identical to PIL's.
///
/// Mode conversion follows PIL: greyscale is replicated to R=G=B; CMYK/YCCK files are treated as
/// Adobe-inverted CMYK (PIL always reads them with raw mode `CMYK;I`) and converted with PIL's
/// formula `R = (255-K) - C*(255-K)/255` (rounded division, likewise for G/B).
enum JPEGDecoder {
  static func decode(_ bytes: [UInt8], name: String) throws(ImageError) -> RGBImage {
    var result = eam_jpeg_result()
    let status = bytes.withUnsafeBufferPointer {
      eam_jpeg_decode($0.baseAddress, UInt($0.count), Int32(ImageDecoder.maxSide),
                      UInt64(ImageDecoder.maxPixels), &result)
    }
    defer { free(result.pixels) }
    let message = withUnsafeBytes(of: result.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    if status == 2 {
      throw .tooLarge(file: name, width: Int(result.width), height: Int(result.height))
    }
    guard status == 0, let samples = result.pixels else {
      throw .corrupt(file: name, format: "JPEG", reason: message)
    }
    let width = Int(result.width), height = Int(result.height), count = width * height
    let pixels = [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialized in
      switch result.components {
      case 1:
        for i in 0..<count {
          let v = samples[i]
          out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
        }
      case 4:
        for i in 0..<count {
          // Stored values are inverted ink amounts, so 255 - stored is the PIL CMYK value.
          let inverseK = Int32(samples[4 * i + 3])
          for c in 0..<3 {
            let ink = 255 - Int32(samples[4 * i + c])
            out[3 * i + c] = UInt8(clamping: inverseK - mulDiv255(ink, inverseK))
          }
        }
      default:
        out.baseAddress!.update(from: samples, count: count * 3)
      }
      initialized = count * 3
    }
    return RGBImage(width: width, height: height, pixels: pixels)
  }

  /// `round(a * b / 255)` for bytes, the way PIL's colour converters compute it.
  @inline(__always)
  static func mulDiv255(_ a: Int32, _ b: Int32) -> Int32 {
    let t = a * b + 128
    return ((t >> 8) + t) >> 8
  }
}
