import EAMIngest
import FuzzSupport

/// Legacy (pre-1.6) `torch.save` files: five pickles, then the raw storages; through the
/// checkpoint reader's in-memory entry point. The seeds are legacy files.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = try? CheckpointReader.read(bytes: FuzzHarness.bytes(data, size))
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
