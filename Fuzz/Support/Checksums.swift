import EAMFormat

/// Recomputes the checksums of mutated inputs so that the fuzzer reaches the code behind them:
/// a random mutation of a `.eam` or `.eamstats` file would otherwise stop at the checksum
/// comparison almost every time. The comparisons themselves are a few lines each and are covered
/// by the unit tests (ArtifactTests, CorruptionSweepTests, StatisticsTests).
public enum FuzzChecksums {
  /// In a `.eam` file (FORMAT.md): every section's CRC-32C whose entry and bytes lie inside the
  /// input, then the metadata checksum over header bytes 0..<56, the section table and the
  /// manifest. Inputs too damaged to locate these are left alone.
  public static func fixArtifact(_ bytes: inout [UInt8]) {
    guard bytes.count >= 64, bytes[0..<8].elementsEqual([0x89, 0x45, 0x41, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A]) else { return }
    let tableLength = u64(bytes, 24), manifestLength = u64(bytes, 40)
    let available = UInt64(bytes.count - 64)
    guard tableLength <= available, manifestLength <= available - tableLength else { return }
    let tableEnd = 64 + Int(tableLength), manifestEnd = tableEnd + Int(manifestLength)
    if tableLength >= 8 {
      let count = Int(u32(bytes, 64))
      var entry = 72
      for _ in 0..<count {
        guard entry + 96 <= tableEnd else { break }
        let offset = u64(bytes, entry), stored = u64(bytes, entry + 8)
        if offset <= UInt64(bytes.count), stored <= UInt64(bytes.count) - offset {
          let crc = bytes.withUnsafeBytes { raw in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[Int(offset)..<Int(offset + stored)]))
          }
          put32(&bytes, entry + 24, crc)
        }
        entry += 96
      }
    }
    let crc = bytes.withUnsafeBytes { raw in
      CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[64..<manifestEnd]),
                      continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<56])))
    }
    put32(&bytes, 56, crc)
  }

  /// In a `.eamstats` file: the trailing CRC-32C of every byte before it.
  public static func fixStatistics(_ bytes: inout [UInt8]) {
    guard bytes.count >= 8 + 4, bytes[0..<8].elementsEqual(Array("EAMSTAT1".utf8)) else { return }
    let crc = CRC32C.checksum(Array(bytes[0..<(bytes.count - 4)]))
    put32(&bytes, bytes.count - 4, crc)
  }

  private static func u32(_ b: [UInt8], _ p: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(b[p + $1]) << (8 * UInt32($1)) }
  }

  private static func u64(_ b: [UInt8], _ p: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(b[p + $1]) << (8 * UInt64($1)) }
  }

  private static func put32(_ b: inout [UInt8], _ p: Int, _ v: UInt32) {
    for i in 0..<4 { b[p + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
  }
}
