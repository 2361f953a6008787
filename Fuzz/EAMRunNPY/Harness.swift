import EAMRunSupport
import FuzzSupport

/// eam-run's own `.npy` reader (`NPYFile.decode`, the bytes of `NPYFile.read`): magic, versions
/// 1 to 3, header dict, float32/float64 in either byte order, C or Fortran order. The seeds are
/// the runtime's committed outputs, the checkpoint reader's `.npy` fixtures and NCHW batches in
/// every type and order eam-run reads.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = FuzzHarness.bytes(data, size)
  _ = bytes.withUnsafeBytes { raw in try? NPYFile.decode(raw, name: "fuzz.npy") }
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
