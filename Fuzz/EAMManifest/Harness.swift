import EAMFormat
import FuzzSupport

/// The manifest alone: the runtime's decoder of `eam.v1.Manifest` (caps included), checked
/// against protobuf-c's: where both read the bytes, they must read the same manifest.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = FuzzHarness.bytes(data, size)
  let ours = bytes.withUnsafeBytes { try? ManifestCodec.decode($0) }
  let theirs = bytes.withUnsafeBytes { try? ManifestCodec.decodeWithProtobufC($0) }
  if let ours, let theirs, ManifestCodec.encode(ours) != ManifestCodec.encode(theirs) {
    fatalError("manifest decoders disagree")
  }
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
