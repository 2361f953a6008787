import EAMIngest
import FuzzSupport

/// The zip reader and what reads inside it (`torch.save` archives, `.npz`), through the
/// checkpoint reader's in-memory entry point. The seeds are zip files.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = try? CheckpointReader.read(bytes: FuzzHarness.bytes(data, size))
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
