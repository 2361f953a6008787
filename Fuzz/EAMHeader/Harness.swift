import EAMFormat
import FuzzSupport

/// A `.eam` file's header, section table and sections: opening validates the header, the
/// table and the manifest; then every section is decompressed (zstd into exactly the declared
/// size). Checksums are recomputed first (`FuzzChecksums`) so that mutations get past them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var bytes = FuzzHarness.bytes(data, size)
  FuzzChecksums.fixArtifact(&bytes)
  guard let artifact = try? Artifact(bytes: bytes, name: "fuzz.eam") else { return 0 }
  for section in artifact.sections { _ = try? artifact.rawBytes(section) }
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
