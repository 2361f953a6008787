import EAMFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `.eamstats` file: calibration statistics on disk, little-endian.
///
/// ```
/// magic "EAMSTAT1"                       8 bytes
/// u32 version (1)
/// u32 binning scheme (1: float-bit bins)  u32 mantissa bits   u32 bins
/// u32 value fixed-point bits (23)         u32 entropy fixed-point bits (24)
/// u32 layers                              u32 model fingerprint bytes (≤ 4096)
/// u64 images
/// model fingerprint, UTF-8
/// per layer: u32 heads, u32 tokens
/// per (layer, head): u64 observations, u64 row-entropy sum
/// per image: its 32-byte SHA-256, strictly ascending
/// per layer, for counts (u16), sums (u64), squares (u64) of the layer's entries:
///     u64 length, then one zstd frame of the values split into byte planes
///     (all low bytes, then all second bytes, …; the high bytes are mostly zero)
/// version 2 only: u32 linear layers (≤ 4096), then per layer, names strictly ascending by bytes:
///     u32 name bytes (1…256), the name (UTF-8), f32 min ≤ 0, f32 max ≥ 0 of its input
/// u32 CRC-32C of every byte before it
/// ```
/// The same statistics always encode to the same bytes (with the same libzstd). Decoding checks
/// the checksum first, then every field and size against the file before allocating, then that
/// the arrays are consistent (each entry's counts sum to its slice's observations, sums within
/// their bounds), so a decoded value can be merged without overflow.
extension AttentionStatistics {
  static let magic = Array("EAMSTAT1".utf8)
  /// 2 when the file carries linear input ranges, else 1 (the bytes of older writers).
  static let fileVersion: UInt32 = 1
  static let rangesVersion: UInt32 = 2
  static let binningScheme: UInt32 = 1

  /// The `.eamstats` encoding. Deterministic. (Traps only if zstd cannot allocate memory.)
  public func encoded() -> [UInt8] {
    var w = LittleEndianWriter()
    w.append(fileHeader.bytes)
    for l in 0..<layers {
      forEachSection(layer: l) { (bytes: [UInt8]) throws(Never) in w.append(bytes) }
    }
    w.append(fileHeader.trailer)
    w.u32(CRC32C.checksum(w.bytes))
    return w.bytes
  }

  /// Everything of the file before the arrays.
  var fileHeader: StatisticsFileHeader {
    StatisticsFileHeader(binning: binning, heads: heads, tokens: tokens, model: model, observations: observationCounts,
                         entropies: rowEntropySums, images: images, linearInputRanges: linearInputRanges)
  }

  /// Encodes layer `l`'s counts, sums and squares, one section after the other (its u64 length,
  /// then its zstd frame), handing each to `body`: one section's byte planes and frame are in
  /// memory at a time.
  func forEachSection<E: Error>(layer l: Int, _ body: ([UInt8]) throws(E) -> Void) throws(E) {
    let b = binning.bins
    let first = entryBase[sliceBase[l]], n = entryBase[sliceBase[l + 1]] - first
    for (pointer, count, width) in [(UnsafeRawPointer(storage.counts + first * b), n * b, 2),
                                    (UnsafeRawPointer(storage.sums + first), n, 8),
                                    (UnsafeRawPointer(storage.squares + first), n, 8)]
    {
      let frame = Self.compressSection(pointer, count: count, width: width)
      var length = LittleEndianWriter()
      length.u64(UInt64(frame.count))
      try body(length.bytes)
      try body(frame)
    }
  }

  /// Decodes a `.eamstats` file's bytes; errors name `path`, which also becomes `origin`.
  public init(decoding bytes: [UInt8], path: String) throws(StatisticsError) {
    let result = bytes.withUnsafeBytes { raw in
      Result { () throws(StatisticsError) in try Self.decode(raw) }
    }
    do throws(StatisticsError) {
      self = try result.get()
    } catch {
      throw error.at(path)
    }
    origin = path
  }

  /// Reads and decodes a `.eamstats` file.
  public init(contentsOf path: String) throws(StatisticsError) {
    try self.init(decoding: try Self.readFile(path), path: path)
  }

  /// Writes the encoding to `path` atomically, layer by layer (the file is never whole in
  /// memory): the same bytes as `encoded()`.
  public func write(to path: String) throws(StatisticsError) {
    let header = fileHeader.bytes
    let file = try StatisticsFileWriter(path: path, headerBytes: header.count)
    for l in 0..<layers { try forEachSection(layer: l) { (bytes: [UInt8]) throws(StatisticsError) in try file.append(bytes) } }
    try file.append(fileHeader.trailer)
    try file.finish(header: header)
  }

  // MARK: Sections

  /// zstd level of `.eamstats` sections: fixed (the same statistics give the same bytes); 3, not the
  /// artifact's 9: ~380 MB of statistics for DINOv2 compress at level 9 in about 2 s.
  static let zstdLevel: Int32 = 3

  private static func compressSection(_ p: UnsafeRawPointer, count: Int, width: Int) -> [UInt8] {
    var planes = [UInt8](repeating: 0, count: count * width)
    planes.withUnsafeMutableBufferPointer { out in
      let src = p.assumingMemoryBound(to: UInt8.self)
      for byte in 0..<width {
        let plane = out.baseAddress! + byte * count
        for i in 0..<count { plane[i] = src[i * width + byte] }
      }
    }
    let result = planes.withUnsafeBytes { raw in Result { () throws(FormatError) in try Zstd.compress(raw, level: Self.zstdLevel) } }
    do throws(FormatError) {
      return try result.get()
    } catch {
      fatalError("encoding statistics: \(error.message)")
    }
  }

  /// Decompresses one section into `count` values of `width` bytes at `destination`.
  private static func decompressSection(_ frame: UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer,
                                        count: Int, width: Int, scratch: inout [UInt8], what: String)
    throws(StatisticsError)
  {
    let n = count * width
    do throws(FormatError) {
      try Zstd.checkFrame(frame, declares: n)  // before the scratch space is allocated
    } catch {
      throw StatisticsError(.invalid, "\(what): \(error.message)")
    }
    if scratch.count < n { scratch = [UInt8](repeating: 0, count: n) }
    let result = scratch.withUnsafeMutableBytes { out in
      Result { () throws(FormatError) in try Zstd.decompress(frame, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<n])) }
    }
    do throws(FormatError) {
      try result.get()
    } catch {
      throw StatisticsError(.invalid, "\(what): \(error.message)")
    }
    scratch.withUnsafeBufferPointer { planes in
      let dst = destination.assumingMemoryBound(to: UInt8.self)
      for byte in 0..<width {
        let plane = planes.baseAddress! + byte * count
        for i in 0..<count { dst[i * width + byte] = plane[i] }
      }
    }
  }

  /// The smallest zstd frame that can hold `n` bytes: a frame header (magic and descriptor) and
  /// one 3-byte block header per 128 KiB block at most.
  private static func minimumFrameBytes(_ n: Int) -> Int { 5 + 3 * max(1, (n + (1 << 17) - 1) >> 17) }

  // MARK: Decoding

  private static func decode(_ raw: UnsafeRawBufferPointer) throws(StatisticsError) -> AttentionStatistics {
    guard raw.count >= magic.count, raw.prefix(magic.count).elementsEqual(magic) else {
      throw StatisticsError(.notStatistics, "not a .eamstats file")
    }
    let fixedHeader = 48
    guard raw.count >= fixedHeader + 4 else {
      throw StatisticsError(.truncated, "file is truncated (\(raw.count) bytes)")
    }
    var r = StatisticsReader(raw, end: raw.count - 4)
    _ = try r.bytes(magic.count, "magic")
    let version = try r.u32("version")
    guard version == fileVersion || version == rangesVersion else {
      throw StatisticsError(.notStatistics, ".eamstats version \(version); this build reads versions \(fileVersion) and \(rangesVersion)")
    }
    var tail = StatisticsReader(raw, end: raw.count)
    _ = try tail.bytes(raw.count - 4, "checksum")
    let stored = try tail.u32("checksum")
    let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)]))
    guard stored == actual else {
      throw StatisticsError(.checksum, "checksum mismatch: the file is damaged or truncated")
    }

    let scheme = try r.u32("binning scheme")
    guard scheme == binningScheme else { throw StatisticsError(.invalid, "unknown binning scheme \(scheme)") }
    let mantissaBits = try r.count("mantissa bits", 0...4)
    let bins = try r.count("bins", 2...256)
    let binning: Binning
    do throws(StatisticsError) { binning = try Binning(mantissaBits: mantissaBits, bins: bins) } catch { throw StatisticsError(.invalid, error.message) }
    let valueBits = try r.u32("value scale"), entropyBits = try r.u32("entropy scale")
    guard valueBits == valueScaleBits, entropyBits == entropyScaleBits else {
      throw StatisticsError(.notStatistics, "fixed-point scales 2^\(valueBits)/2^\(entropyBits), this build uses 2^\(valueScaleBits)/2^\(entropyScaleBits)")
    }
    let layers = try r.count("layer count", 1...maxLayers)
    let modelLength = try r.count("model fingerprint length", 0...maxModelBytes)
    let imageCount64 = try r.u64("image count")
    guard imageCount64 <= UInt64(maxObservations) else {
      throw StatisticsError(.invalid, "image count \(imageCount64) exceeds \(maxObservations)")
    }
    let imageCount = Int(imageCount64)
    guard let model = String(validating: try r.bytes(modelLength, "model fingerprint"), as: UTF8.self) else {
      throw StatisticsError(.invalid, "model fingerprint is not UTF-8")
    }
    var heads: [Int] = [], tokens: [Int] = []
    for l in 0..<layers {
      heads.append(try r.count("head count of layer \(l)", 1...maxLayers))
      tokens.append(try r.count("token count of layer \(l)", 1...maxTokens))
    }
    let slices = heads.reduce(0, +)
    var observations: [Int] = [], entropies: [UInt64] = []
    guard r.remaining / 16 >= slices else { throw StatisticsError(.truncated, "file ends inside the head records") }
    for l in 0..<layers {
      let t = UInt64(tokens[l])
      // Row entropy ≤ ln T < ⌈ln T⌉ + 1 ≤ 13 for T ≤ 65536.
      var lnCeiling: UInt64 = 1
      while Double(lnCeiling) < DeterministicLog.ln(Double(t)) { lnCeiling += 1 }
      for h in 0..<heads[l] {
        let n = try r.u64("observations of layer \(l) head \(h)")
        guard n <= UInt64(maxObservations) else {
          throw StatisticsError(.invalid, "layer \(l) head \(h): \(n) observations exceed \(maxObservations)")
        }
        let e = try r.u64("entropy of layer \(l) head \(h)")
        guard e <= n * t * (lnCeiling + 1) << UInt64(entropyScaleBits) else {
          throw StatisticsError(.invalid, "layer \(l) head \(h): row-entropy sum \(e) is impossible")
        }
        observations.append(Int(n))
        entropies.append(e)
      }
    }
    guard r.remaining / 32 >= imageCount else { throw StatisticsError(.truncated, "file ends inside the image hashes") }
    var digests: [ImageDigest] = []
    digests.reserveCapacity(imageCount)
    for _ in 0..<imageCount {
      let d = ImageDigest(bytes: try r.bytes(32, "image hashes"))
      if let last = digests.last, !(last < d) {
        throw StatisticsError(.invalid, "image hashes are not strictly ascending")
      }
      digests.append(d)
    }

    // Every section's length against the file, before allocating anything large.
    var entriesOfLayer: [Int] = []
    for l in 0..<layers { entriesOfLayer.append(heads[l] * tokens[l] * tokens[l]) }
    let totalEntries = entriesOfLayer.reduce(0, +)
    guard totalEntries <= Int.max / (bins * 2 + 16) else {
      throw StatisticsError(.invalid, "\(totalEntries) entries do not fit in memory")
    }
    var frames: [UnsafeRawBufferPointer] = []
    for l in 0..<layers {
      for (name, size) in [("counts", entriesOfLayer[l] * bins * 2), ("sums", entriesOfLayer[l] * 8),
                           ("squares", entriesOfLayer[l] * 8)]
      {
        let what = "\(name) of layer \(l)"
        let length = try r.u64("length of the \(what)")
        guard length <= UInt64(r.remaining) else {
          throw StatisticsError(.truncated, "the \(what) need \(length) bytes, \(r.remaining) remain")
        }
        guard Int(length) >= minimumFrameBytes(size) else {
          throw StatisticsError(.invalid, "the \(what) (\(size) bytes) cannot fit in \(length) compressed bytes")
        }
        frames.append(try r.bytes(Int(length), what))
      }
    }
    var ranges: [String: ClosedRange<Float>] = [:]
    if version == rangesVersion {
      let count = try r.count("linear layer count", 1...maxLinearLayers)
      var previous: [UInt8]? = nil
      for i in 0..<count {
        let length = try r.count("name length of linear layer \(i)", 1...256)
        let bytes = Array(try r.bytes(length, "name of linear layer \(i)"))
        guard let name = String(validating: bytes, as: UTF8.self) else {
          throw StatisticsError(.invalid, "the name of linear layer \(i) is not UTF-8")
        }
        guard previous.map({ $0.lexicographicallyPrecedes(bytes) }) ?? true else {
          throw StatisticsError(.invalid, "linear layer names are not strictly ascending at '\(name)'")
        }
        previous = bytes
        let lo = Float(bitPattern: try r.u32("input minimum of \(name)")), hi = Float(bitPattern: try r.u32("input maximum of \(name)"))
        guard lo.isFinite, hi.isFinite, lo <= 0, hi >= 0 else {
          throw StatisticsError(.invalid, "input range of \(name) is [\(lo), \(hi)] (finite, min ≤ 0 ≤ max)")
        }
        ranges[name] = lo...hi
      }
    }
    guard r.remaining == 0 else { throw StatisticsError(.invalid, "\(r.remaining) unexpected bytes after the arrays") }

    var stats: AttentionStatistics
    do throws(StatisticsError) {
      stats = try AttentionStatistics(layers: layers, heads: heads, tokens: tokens, binning: binning, model: model)
    } catch {
      throw StatisticsError(.invalid, error.message)
    }
    stats.observationCounts = observations
    stats.rowEntropySums = entropies
    stats.images = CalibrationImages(sorted: digests)
    stats.linearInputRanges = ranges
    let arrays = stats.storage
    var scratch: [UInt8] = []
    for l in 0..<layers {
      let first = stats.entryBase[stats.sliceBase[l]], n = entriesOfLayer[l]
      try decompressSection(frames[3 * l], into: arrays.counts + first * bins, count: n * bins, width: 2,
                            scratch: &scratch, what: "counts of layer \(l)")
      try decompressSection(frames[3 * l + 1], into: arrays.sums + first, count: n, width: 8,
                            scratch: &scratch, what: "sums of layer \(l)")
      try decompressSection(frames[3 * l + 2], into: arrays.squares + first, count: n, width: 8,
                            scratch: &scratch, what: "squares of layer \(l)")
    }
    try stats.validateArrays()
    return stats
  }

  /// Each entry's counts sum to its slice's observations n, Σq ≤ n·2^23 and Σq² ≤ n·2^46: what
  /// merging and the queries rely on.
  func validateArrays() throws(StatisticsError) {
    let b = binning.bins
    for s in 0..<sliceCount {
      let n = UInt64(observationCounts[s])
      let maxSum = n << UInt64(Self.valueScaleBits), maxSquares = n << UInt64(2 * Self.valueScaleBits)
      for e in entryBase[s]..<entryBase[s + 1] {
        let row = storage.counts + e * b
        var total: UInt64 = 0
        for i in 0..<b { total &+= UInt64(row[i]) }
        guard total == n, storage.sums[e] <= maxSum, storage.squares[e] <= maxSquares else {
          let l = layer(ofSlice: s)
          throw StatisticsError(.invalid, "layer \(l) head \(s - sliceBase[l]) entry \(e - entryBase[s]): counts or sums inconsistent with \(n) observations")
        }
      }
    }
  }

  // MARK: Files

  private static func readFile(_ path: String) throws(StatisticsError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw StatisticsError(.io, "cannot open: \(String(cString: strerror(errno)))", path: path) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw StatisticsError(.io, "cannot read: \(String(cString: strerror(errno)))", path: path)
      }
      if n == 0 { break }
      out.append(contentsOf: chunk[0..<n])
    }
    return out
  }
}

/// Everything of a `.eamstats` file before the arrays: shape, model, per-head records, images.
struct StatisticsFileHeader {
  var binning: Binning
  var heads: [Int]
  var tokens: [Int]
  var model: String
  /// Per (layer, head): maps observed and the row-entropy sum.
  var observations: [Int]
  var entropies: [UInt64]
  var images: CalibrationImages
  var linearInputRanges: [String: ClosedRange<Float>] = [:]

  var bytes: [UInt8] {
    var w = LittleEndianWriter()
    w.append(AttentionStatistics.magic)
    w.u32(linearInputRanges.isEmpty ? AttentionStatistics.fileVersion : AttentionStatistics.rangesVersion)
    w.u32(AttentionStatistics.binningScheme)
    w.u32(UInt32(binning.mantissaBits))
    w.u32(UInt32(binning.bins))
    w.u32(UInt32(AttentionStatistics.valueScaleBits))
    w.u32(UInt32(AttentionStatistics.entropyScaleBits))
    w.u32(UInt32(heads.count))
    let modelBytes = Array(model.utf8)
    w.u32(UInt32(modelBytes.count))
    w.u64(UInt64(images.count))
    w.append(modelBytes)
    for l in heads.indices {
      w.u32(UInt32(heads[l]))
      w.u32(UInt32(tokens[l]))
    }
    for s in observations.indices {
      w.u64(UInt64(observations[s]))
      w.u64(entropies[s])
    }
    for d in images.digests { w.append(d.bytes) }
    return w.bytes
  }

  /// The linear input ranges after the arrays (version 2), names in byte order; nothing in
  /// version 1.
  var trailer: [UInt8] {
    guard !linearInputRanges.isEmpty else { return [] }
    var w = LittleEndianWriter()
    let names = linearInputRanges.keys.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
    w.u32(UInt32(names.count))
    for name in names {
      let r = linearInputRanges[String(decoding: name, as: UTF8.self)]!
      w.u32(UInt32(name.count))
      w.append(name)
      w.u32(r.lowerBound.bitPattern)
      w.u32(r.upperBound.bitPattern)
    }
    return w.bytes
  }

  /// Bytes of a header with `layers` layers, `slices` heads in all and `images` images, for a
  /// model fingerprint of `modelBytes` bytes (48 fixed, 8 per layer, 16 per head, 32 per image).
  static func byteCount(modelBytes: Int, layers: Int, slices: Int, images: Int) -> Int? {
    ByteMath.sum(48, modelBytes, ByteMath.product(8, layers), ByteMath.product(16, slices), ByteMath.product(32, images))
  }
}
