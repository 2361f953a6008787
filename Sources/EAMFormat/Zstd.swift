#if canImport(CZstd)
import CZstd
#endif

/// Thin wrapper over libzstd's one-shot API (the runtime only decompresses). A device runtime may
/// be built without libzstd (`make arm-test`): compressed sections are then refused by name, and
/// `eamc compile --device-layout` writes artifacts without any.
public enum Zstd {
  /// The level every `.eam` writer uses: fixed, so that output is reproducible.
  public static let level: Int32 = 9

  /// Bytes one zstd frame of `compressed` bytes can decompress to at most: the frame header takes
  /// at least 6 bytes, every block at least 3 (its header; an RLE block adds 1), and no block
  /// holds more than 128 KiB. So about 43,690 times the compressed size.
  public static func maximumContent(compressed: Int) -> Int {
    let blocks = max(0, compressed - 6) / 3
    let (bound, overflow) = blocks.multipliedReportingOverflow(by: 1 << 17)
    return overflow ? Int.max : bound
  }

  /// Checks, before the caller allocates `size` bytes for it, that `input` is a zstd frame that
  /// declares exactly `size` bytes of content and is long enough to hold them
  /// (`maximumContent`). A header that merely claims a large size is refused here, not after
  /// the allocation.
  public static func checkFrame(_ input: UnsafeRawBufferPointer, declares size: Int) throws(FormatError) {
    #if canImport(CZstd)
    let declared = input.count >= 4 ? ZSTD_getFrameContentSize(input.baseAddress, input.count) : UInt64.max
    // ZSTD_CONTENTSIZE_UNKNOWN / ERROR are the two largest UInt64 values.
    guard declared < UInt64.max - 1, declared == UInt64(size) else {
      throw FormatError(.compression, "zstd frame does not declare the section's size \(size)")
    }
    guard size <= maximumContent(compressed: input.count) else {
      throw FormatError(.compression, "a zstd frame of \(input.count) bytes cannot hold the \(size) bytes it declares")
    }
    #else
    throw FormatError(.unsupported, "this runtime is built without zstd and the section is zstd-compressed (compile with --device-layout)")
    #endif
  }

  /// Decompresses one frame into exactly `into.count` bytes; anything else is an error.
  public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
    throws(FormatError)
  {
    try checkFrame(input, declares: output.count)
    #if canImport(CZstd)
    guard let dst = output.baseAddress else { return }
    let n = ZSTD_decompress(dst, output.count, input.baseAddress, input.count)
    if ZSTD_isError(n) != 0 {
      throw FormatError(.compression, "zstd: \(String(cString: ZSTD_getErrorName(n)))")
    }
    guard n == output.count else {
      throw FormatError(.compression, "zstd frame decompressed to \(n) bytes, expected \(output.count)")
    }
    #endif
  }
}

#if !hasFeature(Embedded)
extension Zstd {
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
}
#endif
