import EAMImage
import FuzzSupport

/// PNG decoding (libpng through the CPNG shim, the conversion to RGB) and the preprocessing
/// every image then goes through (PIL-exact resize, centre crop, normalisation).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  if let image = try? ImageDecoder.decode(bytes: FuzzHarness.bytes(data, size), name: "fuzz.png") {
    _ = preprocess(image, .imagenet224)
  }
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
