import EAMCompiler
import FuzzSupport

/// The `.eamstats` calibration statistics file, decoded from bytes. Its trailing checksum is
/// recomputed first (`FuzzChecksums`) so that mutations reach the fields behind it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var bytes = FuzzHarness.bytes(data, size)
  FuzzChecksums.fixStatistics(&bytes)
  _ = try? AttentionStatistics(decoding: bytes, path: "fuzz.eamstats")
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
