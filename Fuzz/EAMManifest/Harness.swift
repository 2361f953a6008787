import EAMFormat
import FuzzSupport

/// The manifest alone: protobuf-c's unpack of `eam.v1.Manifest`, then our caps and copying.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = FuzzHarness.bytes(data, size)
  _ = bytes.withUnsafeBytes { try? ManifestCodec.decode($0) }
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
