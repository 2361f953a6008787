/// The SHA-256 digest of one calibration image's file contents.
struct ImageDigest: Comparable, Hashable, Sendable {
  /// The 32 bytes as four big-endian words, so that comparing words compares bytes.
  let words: (UInt64, UInt64, UInt64, UInt64)

  init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

  /// Parses 64 hex digits (either case).
  init?(hex: String) {
    let digits = Array(hex.utf8)
    guard digits.count == 64 else { return nil }
    var w: [UInt64] = [0, 0, 0, 0]
    for (i, c) in digits.enumerated() {
      let v: UInt8
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
      default: return nil
      }
      w[i / 16] = w[i / 16] << 4 | UInt64(v)
    }
    words = (w[0], w[1], w[2], w[3])
  }

  /// Reads 32 bytes.
  init(bytes: UnsafeRawBufferPointer) {
    func word(_ k: Int) -> UInt64 {
      var v: UInt64 = 0
      for i in 0..<8 { v = v << 8 | UInt64(bytes[8 * k + i]) }
      return v
    }
    words = (word(0), word(1), word(2), word(3))
  }

  /// The 32 bytes.
  var bytes: [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(32)
    for w in [words.0, words.1, words.2, words.3] {
      for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(i)))) }
    }
    return out
  }

  var hex: String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
  }

  static func == (a: ImageDigest, b: ImageDigest) -> Bool { a.words == b.words }

  static func < (a: ImageDigest, b: ImageDigest) -> Bool { a.words < b.words }

  func hash(into hasher: inout Hasher) {
    hasher.combine(words.0)
    hasher.combine(words.1)
    hasher.combine(words.2)
    hasher.combine(words.3)
  }
}

/// The images statistics were computed from: a set of content digests, kept sorted.
///
/// Sorting makes the set independent of the order images were seen and shards were merged, so
/// the calibration-set hash (SHA-256 of the sorted digests) of merged shards equals that of one
/// pass over the same images. Keeping the digests themselves (32 bytes per image, 2 MiB at the
/// 65535-image cap), rather than only an order-independent sum, also lets a merge refuse shards
/// that share images, which would otherwise be counted twice.
struct CalibrationImages: Equatable, Sendable {
  /// Ascending, no duplicates.
  private(set) var digests: [ImageDigest] = []

  var count: Int { digests.count }

  func contains(_ d: ImageDigest) -> Bool {
    let i = insertionIndex(d)
    return i < digests.count && digests[i] == d
  }

  /// Inserts `d`; false (and no change) if it is already there.
  mutating func insert(_ d: ImageDigest) -> Bool {
    let i = insertionIndex(d)
    if i < digests.count && digests[i] == d { return false }
    digests.insert(d, at: i)
    return true
  }

  /// A digest present in both sets, if any.
  func firstCommon(with other: CalibrationImages) -> ImageDigest? {
    var i = 0, j = 0
    while i < digests.count && j < other.digests.count {
      if digests[i] == other.digests[j] { return digests[i] }
      if digests[i] < other.digests[j] { i += 1 } else { j += 1 }
    }
    return nil
  }

  /// The union of two disjoint sets.
  mutating func formUnion(_ other: CalibrationImages) {
    var merged: [ImageDigest] = []
    merged.reserveCapacity(digests.count + other.digests.count)
    var i = 0, j = 0
    while i < digests.count || j < other.digests.count {
      if j == other.digests.count || (i < digests.count && digests[i] < other.digests[j]) {
        merged.append(digests[i]); i += 1
      } else {
        merged.append(other.digests[j]); j += 1
      }
    }
    digests = merged
  }

  /// Wraps digests that are already strictly ascending.
  init(sorted: [ImageDigest]) {
    precondition(zip(sorted, sorted.dropFirst()).allSatisfy { $0 < $1 }, "digests not strictly ascending")
    digests = sorted
  }

  init() {}

  /// SHA-256 (hex) of the concatenated sorted 32-byte digests.
  var hash: String {
    var h = SHA256()
    for d in digests { h.update(d.bytes) }
    return h.finalizeHex()
  }

  private func insertionIndex(_ d: ImageDigest) -> Int {
    var lo = 0, hi = digests.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if digests[mid] < d { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }
}
