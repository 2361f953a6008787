import EAMFormat
import FuzzModelSupport
import FuzzSupport

/// A model loaded from memory, as on a device without a file system: `Artifact(borrowing:name:)`
/// over the bytes in place (not the aligned copy `Artifact(bytes:name:)` makes, nor a file
/// mapping), then `Model(artifact:)` and, if small, one run. The bytes start at an offset of
/// 0 to 15 bytes past a 64-byte boundary (the input's length modulo 16), since flash-mapped
/// bytes need not be aligned. Checksums are recomputed first (`FuzzChecksums`). The seeds are the
/// tiny compiled models of fuzz-eam-model.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var bytes = FuzzHarness.bytes(data, size)
  FuzzChecksums.fixArtifact(&bytes)
  let shift = bytes.count % 16
  let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + shift + 1, alignment: 64)
  defer { buffer.deallocate() }
  bytes.withUnsafeBytes { if let base = $0.baseAddress { (buffer + shift).copyMemory(from: base, byteCount: $0.count) } }
  let memory = UnsafeRawBufferPointer(start: buffer + shift, count: bytes.count)
  do {
    guard let artifact = try? Artifact(borrowing: memory, name: "fuzz.eam") else { return 0 }
    FuzzModel.loadAndRun(artifact)
  }
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
