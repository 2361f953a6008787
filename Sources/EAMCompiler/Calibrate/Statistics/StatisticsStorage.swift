#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-entry arrays of `AttentionStatistics`: histogram counts, fixed-point sums and sums of
/// squares, each page-aligned (so that a 32-bin histogram is exactly one cache line) and
/// zero-initialised. A reference type; `AttentionStatistics` copies it before mutating a shared
/// one (copy-on-write), so sharing it across threads is safe.
///
/// A storage can also be a view of a range of another's entries (`init(viewOf:entries:)`): it
/// then allocates nothing and keeps the other alive. Calibration in passes over groups of
/// blocks folds each group into a view of the statistics of every block.
final class StatisticsStorage: @unchecked Sendable {
  let entries: Int
  let bins: Int
  /// `entries × bins` counts, entry-major.
  let counts: UnsafeMutablePointer<UInt16>
  /// Per entry: Σ q, with q = round(v · 2^valueScaleBits).
  let sums: UnsafeMutablePointer<UInt64>
  /// Per entry: Σ q².
  let squares: UnsafeMutablePointer<UInt64>
  /// The storage this one is a view of; nil when it owns its arrays.
  private let parent: StatisticsStorage?

  init(entries: Int, bins: Int) {
    self.entries = entries
    self.bins = bins
    counts = Self.allocateZeroed(UInt16.self, entries * bins)
    sums = Self.allocateZeroed(UInt64.self, entries)
    squares = Self.allocateZeroed(UInt64.self, entries)
    parent = nil
  }

  /// The entries `range` of `parent`, in place.
  init(viewOf parent: StatisticsStorage, entries range: Range<Int>) {
    precondition(range.lowerBound >= 0 && range.upperBound <= parent.entries, "view outside the storage")
    entries = range.count
    bins = parent.bins
    counts = parent.counts + range.lowerBound * parent.bins
    sums = parent.sums + range.lowerBound
    squares = parent.squares + range.lowerBound
    self.parent = parent
  }

  /// Whether this storage is a view of `other`'s arrays.
  func isView(of other: StatisticsStorage) -> Bool { parent === other }

  deinit {
    guard parent == nil else { return }
    Self.release(counts, entries * bins)
    Self.release(sums, entries)
    Self.release(squares, entries)
  }

  /// Bytes of the three arrays.
  var byteCount: Int { Self.byteCount(entries: entries, bins: bins) }

  static func byteCount(entries: Int, bins: Int) -> Int { entries * (bins * 2 + 16) }

  func copy() -> StatisticsStorage {
    let c = StatisticsStorage(entries: entries, bins: bins)
    c.counts.update(from: counts, count: entries * bins)
    c.sums.update(from: sums, count: entries)
    c.squares.update(from: squares, count: entries)
    return c
  }

  /// Whether every array holds the same values as `other`'s.
  func sameContents(as other: StatisticsStorage) -> Bool {
    entries == other.entries && bins == other.bins
      && memcmp(counts, other.counts, entries * bins * 2) == 0
      && memcmp(sums, other.sums, entries * 8) == 0
      && memcmp(squares, other.squares, entries * 8) == 0
  }

  /// Fresh anonymous pages: zero, page-aligned, and only backed by memory once written (no
  /// `memset` of hundreds of MB that the kernel has already zeroed).
  private static func allocateZeroed<T>(_: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
    let n = max(count, 1) * MemoryLayout<T>.stride
    let raw = mmap(nil, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let raw, raw != UnsafeMutableRawPointer(bitPattern: -1) else {
      fatalError("statistics: cannot allocate \(n) bytes")
    }
    return raw.bindMemory(to: T.self, capacity: max(count, 1))
  }

  private static func release<T>(_ p: UnsafeMutablePointer<T>, _ count: Int) {
    munmap(UnsafeMutableRawPointer(p), max(count, 1) * MemoryLayout<T>.stride)
  }
}
