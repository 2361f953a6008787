import CPNG

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PNG decoding through libpng with only unpacking transformations; the conversion to RGB is
/// done here to mirror PIL's `convert("RGB")`:
///
/// - grey (1/2/4/8-bit): scaled to 8 bits and replicated; 16-bit grey opens in PIL as `I;16`
///   whose conversion *clamps* to 255 (it does not scale);
/// - grey+alpha, RGB, RGBA: alpha dropped (not composited); 16-bit samples keep the high byte;
/// - palette: looked up in PLTE; indices past the palette's end give black; tRNS ignored.
/// Gamma, colour profiles and other ancillary chunks are ignored, as PIL does.
enum PNGDecoder {
  static func decode(_ bytes: [UInt8], name: String) throws(ImageError) -> RGBImage {
    // libpng reports oversized images only as "Invalid IHDR data"; check IHDR ourselves first.
    if bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8) {
      let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
      let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
      if width > ImageDecoder.maxSide || height > ImageDecoder.maxSide
        || width * height > ImageDecoder.maxPixels {
        throw .tooLarge(file: name, width: width, height: height)
      }
    }
    var result = eam_png_result()
    let status = bytes.withUnsafeBufferPointer {
      eam_png_decode($0.baseAddress, $0.count, Int32(ImageDecoder.maxSide),
                     UInt64(ImageDecoder.maxPixels), &result)
    }
    defer { free(result.samples) }
    let message = withUnsafeBytes(of: result.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    if status == 2 {
      throw .tooLarge(file: name, width: Int(result.width), height: Int(result.height))
    }
    guard status == 0, let samples = result.samples else {
      throw .corrupt(file: name, format: "PNG", reason: message)
    }
    let width = Int(result.width), height = Int(result.height), count = width * height
    let channels = Int(result.channels)
    let bytesPerSample = Int(result.bit_depth) / 8
    let stride = channels * bytesPerSample
    let isPalette = result.color_type == 3
    let isGrey16 = bytesPerSample == 2 && (result.color_type == 0)
    var palette = [UInt8](repeating: 0, count: 256 * 3)
    withUnsafeBytes(of: result.palette) { raw in
      for i in 0..<(Int(result.palette_size) * 3) { palette[i] = raw[i] }
    }
    let pixels = [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialized in
      if isPalette {
        for i in 0..<count {
          let index = Int(samples[i]) * 3
          out[3 * i] = palette[index]; out[3 * i + 1] = palette[index + 1]; out[3 * i + 2] = palette[index + 2]
        }
      } else if isGrey16 {
        for i in 0..<count {
          let value = Int(samples[2 * i]) << 8 | Int(samples[2 * i + 1])
          let v = UInt8(min(value, 255))
          out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
        }
      } else if channels <= 2 {
        // Grey or grey+alpha, 8 or 16 bits: the first byte of the first sample is the (high) grey byte.
        for i in 0..<count {
          let v = samples[i * stride]
          out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
        }
      } else {
        // RGB or RGBA, 8 or 16 bits: high bytes of the first three samples.
        for i in 0..<count {
          let base = i * stride
          out[3 * i] = samples[base]
          out[3 * i + 1] = samples[base + bytesPerSample]
          out[3 * i + 2] = samples[base + 2 * bytesPerSample]
        }
      }
      initialized = count * 3
    }
    return RGBImage(width: width, height: height, pixels: pixels)
  }
}
