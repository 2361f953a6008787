import CZstd

/// Thin wrapper over libzstd's one-shot API.
public enum Zstd {
  /// The level every `.eam` writer uses: fixed, so that output is reproducible.
  public static let level: Int32 = 9

  /// Compresses `input` into one frame at `level` (fixed by each caller, so output is reproducible).
  public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = Zstd.level) throws(FormatError) -> [UInt8] {
    let bound = ZSTD_compressBound(input.count)
    var out = [UInt8](repeating: 0, count: bound)
    let written = out.withUnsafeMutableBytes { dst in
      ZSTD_compress(dst.baseAddress, bound, input.baseAddress, input.count, level)
    }
    if ZSTD_isError(written) != 0 {
      throw FormatError(.compression, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
    }
    out.removeLast(bound - written)
    return out
  }

  /// Decompresses one frame into exactly `into.count` bytes; anything else is an error.
  public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
    throws(FormatError)
  {
    let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
    // ZSTD_CONTENTSIZE_UNKNOWN / ERROR are the two largest UInt64 values.
    guard declared < UInt64.max - 1, declared == UInt64(output.count) else {
      throw FormatError(.compression, "zstd frame does not declare the section's size \(output.count)")
    }
    guard let dst = output.baseAddress else { return }
    let n = ZSTD_decompress(dst, output.count, input.baseAddress, input.count)
    if ZSTD_isError(n) != 0 {
      throw FormatError(.compression, "zstd: \(String(cString: ZSTD_getErrorName(n)))")
    }
    guard n == output.count else {
      throw FormatError(.compression, "zstd frame decompressed to \(n) bytes, expected \(output.count)")
    }
  }
}
