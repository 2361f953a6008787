/// Calibration statistics of attention maps: for every layer × head × entry (query i, key j), the
/// distribution of the softmax coefficient over the calibration images, from which EAM (Entropy
/// Attention Maps) picks the entries to freeze.
///
/// ## What is kept per entry (80 bytes with the standard binning)
/// - A histogram of `binning.bins` `UInt16` counts (32 → 64 bytes, one cache line). Bins are
///   pseudo-logarithmic (see `Binning`): half-octave bins from 2.29e-5 to 1 plus an underflow
///   bin. Attention probabilities are mostly tiny (a uniform row of DINOv2 is 1/257 ≈ 0.004) with
///   a few large ones; uniform bins need 8 bits to separate them (4-bit uniform bins put nearly
///   every value into the zero bin, so entries tie at entropy 0), whereas log bins give each
///   octave the same resolution. Note that log bins measure *relative* variation: an entry moving
///   between 1e-4 and 1e-3 has high entropy although freezing it costs little; the selection pass
///   can weigh entropy with `std` (absolute variation) where that matters.
/// - `Σ q` and `Σ q²` as `UInt64`, with `q = round(v · 2^23)` (`valueScaleBits`), `v` clamped to
///   [0, 1]. Overflow bound: `q ≤ 2^23`, and at most `maxObservations = 65535 < 2^16`
///   observations per entry, so `Σ q < 2^39` and `Σ q² < 2^62`. The mean and variance are exact
///   functions of these integers.
///
/// ## Per (layer, head)
/// - The number of maps observed (`observations`).
/// - The head entropy the paper ranks heads by: each row's Shannon entropy `−Σ_j p_ij ln p_ij`
///   (nats), rounded to a multiple of 2^-24 (`entropyScaleBits`) and summed as `UInt64`.
///   Bound: a row's entropy is at most ln T, so the sum is below
///   `65535 · T · ln T · 2^24`, which fits in 64 bits for T up to `maxTokens` = 65536 (below 2^60;
///   `init` refuses more).
///
/// ## Exact merging
/// Everything is an integer count or sum, so statistics of images {1…n} split into shards in any
/// way, folded on any number of threads and merged in any order are bit-identical to one pass
/// (`q` is an exact rounding of the float; the one inexact floating-point step, a row's entropy,
/// is a fixed sequence of IEEE operations on that row alone). `merge` refuses statistics of another model (`model` fingerprint), another
/// binning or shape, shards that share an image, or a total above the capacity.
///
/// ## Images
/// Maps are added per (layer, head) with `add`; images are counted separately with
/// `finishImage(sha256:)`, which records the SHA-256 of the image file. (A windowed model such as
/// Swin adds one map per window, pooled over the windows of a layer/head, so the observations of
/// a slice can exceed the image count; the capacity applies to observations.) The image digests
/// are kept as a sorted set: `calibrationSetSHA256` (SHA-256 of the sorted digests) is therefore
/// the same for merged shards as for one pass, and merges can detect shared images.
///
/// ## Memory and speed
/// DINOv2-S/14 (12 layers × 6 heads × 257² = 4,755,528 entries) with the standard binning:
/// 80 bytes × 4.76 M ≈ 380 MB (`byteCount(heads:tokens:binning:)`); its `.eamstats` file is
/// about 70 MB after 512 (synthetic) images: zstd over byte planes. Folding is memory-bound when maps come one at a time
/// (each map streams its slice's histograms): add several images' maps of a (layer, head)
/// together with `add(layer:head:maps:tokens:)`, or use `AttentionObserverSink`, which does. With
/// 8–16 images per fold, one DINOv2 image (72 maps of 257×257) folds in about 9 ms on one core
/// (release build, SSE2 code generation).
///
/// Not thread-safe for mutation (a value type); see `AttentionObserverSink` for concurrent
/// observation from the runtime's forward pass. Like `.eam`, the file format and the fold assume
/// a little-endian host.
public struct AttentionStatistics: Sendable {
  /// Most maps one (layer, head) may observe, and most images: counts are `UInt16`.
  public static let maxObservations = Int(UInt16.max)
  /// Fixed point of coefficients: `q = round(v · 2^valueScaleBits)`.
  public static let valueScaleBits = 23
  /// Fixed point of row entropies (nats): `round(H · 2^entropyScaleBits)`.
  public static let entropyScaleBits = 24
  /// Largest map side accepted (keeps the row-entropy sum within 64 bits).
  public static let maxTokens = 65_536
  /// Largest number of layers, and of heads per layer, accepted.
  public static let maxLayers = 4096
  /// Longest model fingerprint accepted, in UTF-8 bytes.
  public static let maxModelBytes = 4096
  /// Linear layers whose input ranges a file may carry.
  public static let maxLinearLayers = 4096

  /// How coefficients are binned.
  public let binning: Binning
  /// Heads of each layer.
  public let heads: [Int]
  /// Map side (tokens) of each layer.
  public let tokens: [Int]
  /// Identifies the model the maps came from (e.g. the checkpoint's SHA-256 and the
  /// preprocessing); statistics of different models are never merged.
  public let model: String
  /// Where these statistics were read from, for error messages (not part of the file or of
  /// equality).
  public var origin: String?

  /// First slice of each layer, and the total (`layers + 1` values).
  let sliceBase: [Int]
  /// First entry of each slice, and the total (`slices + 1` values).
  let entryBase: [Int]
  var storage: StatisticsStorage
  /// Maps observed per slice.
  var observationCounts: [Int]
  /// Σ round(row entropy · 2^24) per slice.
  var rowEntropySums: [UInt64]
  var images = CalibrationImages()
  /// The range of every observed linear layer's input over the same images (`LinearInputRange`,
  /// for static int8 activations); empty in files of version 1.
  public var linearInputRanges: [String: ClosedRange<Float>] = [:]

  /// Empty statistics for a model with `layers` layers of `heads[l]` heads and `tokens[l]`×`tokens[l]`
  /// attention maps.
  public init(layers: Int, heads: [Int], tokens: [Int], binning: Binning = .standard, model: String)
    throws(StatisticsError)
  {
    guard (1...Self.maxLayers).contains(layers), heads.count == layers, tokens.count == layers else {
      throw StatisticsError(.shape, "statistics need 1 to \(Self.maxLayers) layers with one head count and one token count each (got \(layers) layers, \(heads.count) head counts, \(tokens.count) token counts)")
    }
    if let l = heads.indices.first(where: { !(1...Self.maxLayers).contains(heads[$0]) }) {
      throw StatisticsError(.shape, "layer \(l) has \(heads[l]) heads, expected 1 to \(Self.maxLayers)")
    }
    if let l = tokens.indices.first(where: { !(1...Self.maxTokens).contains(tokens[$0]) }) {
      throw StatisticsError(.shape, "layer \(l) has \(tokens[l]) tokens, expected 1 to \(Self.maxTokens)")
    }
    guard model.utf8.count <= Self.maxModelBytes else {
      throw StatisticsError(.invalid, "model fingerprint of \(model.utf8.count) bytes, at most \(Self.maxModelBytes) allowed")
    }
    self.binning = binning
    self.heads = heads
    self.tokens = tokens
    self.model = model
    var sb = [0], eb = [0]
    for l in 0..<layers {
      sb.append(sb[l] + heads[l])
      for _ in 0..<heads[l] { eb.append(eb.last! + tokens[l] * tokens[l]) }
    }
    // At most 4096 · 4096 · 2^32 entries < 2^56; bytes must fit an Int as well.
    guard eb.last! <= Int.max / (binning.bins * 2 + 16) else {
      throw StatisticsError(.shape, "statistics of \(eb.last!) entries do not fit in memory")
    }
    sliceBase = sb
    entryBase = eb
    storage = StatisticsStorage(entries: eb.last!, bins: binning.bins)
    observationCounts = [Int](repeating: 0, count: sb.last!)
    rowEntropySums = [UInt64](repeating: 0, count: sb.last!)
  }

  // MARK: Shape

  /// Number of layers.
  public var layers: Int { heads.count }
  /// Number of (layer, head) slices.
  public var sliceCount: Int { sliceBase[layers] }
  /// Number of entries over all slices.
  public var entryCount: Int { entryBase[sliceCount] }
  /// Images recorded with `finishImage(sha256:)` (or merged).
  public var imageCount: Int { images.count }
  /// Bytes of the per-entry arrays (what dominates memory and the file before compression).
  public var byteCount: Int { storage.byteCount }

  /// Bytes the per-entry arrays of statistics of this shape would take.
  public static func byteCount(heads: [Int], tokens: [Int], binning: Binning = .standard) -> Int {
    let entries = zip(heads, tokens).reduce(0) { $0 + $1.0 * $1.1 * $1.1 }
    return StatisticsStorage.byteCount(entries: entries, bins: binning.bins)
  }

  /// Slice index of (layer, head); nil if out of range.
  func slice(layer: Int, head: Int) -> Int? {
    guard (0..<layers).contains(layer), (0..<heads[layer]).contains(head) else { return nil }
    return sliceBase[layer] + head
  }

  func checkedSlice(layer: Int, head: Int) -> Int {
    guard let s = slice(layer: layer, head: head) else {
      preconditionFailure("layer \(layer) head \(head) is outside statistics of \(layers) layers with \(heads) heads")
    }
    return s
  }

  /// The layer of a slice.
  func layer(ofSlice s: Int) -> Int {
    var l = 0
    while sliceBase[l + 1] <= s { l += 1 }
    return l
  }

  /// Maps observed for (layer, head).
  public func observations(layer: Int, head: Int) -> Int { observationCounts[checkedSlice(layer: layer, head: head)] }

  /// Whether an image with this SHA-256 (64 hex digits) has been recorded.
  public func containsImage(sha256: String) -> Bool {
    guard let d = ImageDigest(hex: sha256) else { return false }
    return images.contains(d)
  }

  /// SHA-256 (hex) of the recorded images' SHA-256 digests, sorted and concatenated: identifies
  /// the calibration set independently of order and sharding.
  public var calibrationSetSHA256: String { images.hash }

  // MARK: Accumulation

  /// Adds one softmax map (`tokens × tokens` floats, row-major, query-major) of (layer, head):
  /// one observation of each of its entries. Call once per image and (layer, head); for windowed
  /// attention once per window. Values are clamped to [0, 1] (see `Binning`). Prefer adding
  /// several maps at once (`add(layer:head:maps:tokens:)`): the result is the same and faster.
  public mutating func add(layer: Int, head: Int, map: UnsafePointer<Float>, tokens: Int) throws(StatisticsError) {
    let s = try checkAdd(layer: layer, head: head, maps: 1, tokens: tokens)
    var m = map
    let arrays = mutableArrays()
    withUnsafePointer(to: &m) { foldSlice(s, maps: UnsafeBufferPointer(start: $0, count: 1), arrays: arrays) }
  }

  /// Adds several maps of the same (layer, head) at once: faster than one by one, because each
  /// entry's histogram is loaded once for all of them. The result is the same.
  public mutating func add(layer: Int, head: Int, maps: UnsafeBufferPointer<UnsafePointer<Float>>, tokens: Int)
    throws(StatisticsError)
  {
    let s = try checkAdd(layer: layer, head: head, maps: maps.count, tokens: tokens)
    let arrays = mutableArrays()
    foldSlice(s, maps: maps, arrays: arrays)
  }

  /// The slice that `maps` maps of side `tokens` may be added to.
  func checkAdd(layer: Int, head: Int, maps: Int, tokens: Int) throws(StatisticsError) -> Int {
    guard let s = slice(layer: layer, head: head) else {
      throw StatisticsError(.shape, "layer \(layer) head \(head) is outside statistics of \(layers) layers with \(heads) heads")
    }
    guard tokens == self.tokens[layer] else {
      throw StatisticsError(.shape, "a \(tokens)×\(tokens) map for layer \(layer), whose maps are \(self.tokens[layer])×\(self.tokens[layer])")
    }
    guard observationCounts[s] + maps <= Self.maxObservations else {
      throw StatisticsError(.capacity, "layer \(layer) head \(head) would observe more than \(Self.maxObservations) maps")
    }
    return s
  }

  /// Records that every map of one image has been added: counts the image and adds the SHA-256
  /// (64 hex digits) of its file to the calibration set. Throws for an image already recorded
  /// or beyond `maxObservations` images.
  public mutating func finishImage(sha256: String) throws(StatisticsError) {
    guard let d = ImageDigest(hex: sha256) else {
      throw StatisticsError(.invalid, "image hash '\(sha256)' is not 64 hex digits")
    }
    guard images.count < Self.maxObservations else {
      throw StatisticsError(.capacity, "more than \(Self.maxObservations) calibration images")
    }
    guard images.insert(d) else {
      throw StatisticsError(.duplicateImage, "image \(sha256) is already in the calibration set")
    }
  }

  /// Pointers into uniquely owned arrays (copying them first if shared).
  mutating func mutableArrays() -> StatisticsStorage {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    return storage
  }

  /// Folds maps of side `t` into the slice starting at entry `entryBase` of `arrays` (which must
  /// be the unique storage of the statistics being changed); returns the maps' row-entropy sum.
  /// Slices are disjoint: distinct slices may be folded concurrently through the same storage
  /// (see `AttentionObserverSink`).
  static func fold(tokens t: Int, maps: UnsafeBufferPointer<UnsafePointer<Float>>, binning: Binning,
                   entryBase: Int, arrays: StatisticsStorage) -> UInt64
  {
    MapFold.accumulate(maps: maps, tokens: t, binning: binning, counts: arrays.counts + entryBase * binning.bins,
                       sums: arrays.sums + entryBase, squares: arrays.squares + entryBase)
  }

  mutating func foldSlice(_ s: Int, maps: UnsafeBufferPointer<UnsafePointer<Float>>, arrays: StatisticsStorage) {
    let t = tokens[layer(ofSlice: s)]
    rowEntropySums[s] &+= Self.fold(tokens: t, maps: maps, binning: binning, entryBase: entryBase[s],
                                    arrays: arrays)
    observationCounts[s] += maps.count
  }

  // MARK: Merging

  /// Adds the statistics of other images of the same model (another shard). Exact: the result is
  /// bit-identical whatever the sharding and order. Throws, naming the file, if binning, shape,
  /// model differ, if the shards share an image, or if the total exceeds the capacity; `self`
  /// is then unchanged.
  public mutating func merge(_ other: AttentionStatistics) throws(StatisticsError) {
    let mine = origin ?? "statistics in memory"
    func fail(_ kind: StatisticsError.Kind, _ what: String) -> StatisticsError {
      StatisticsError(kind, "cannot merge with \(mine): \(what)", path: other.origin)
    }
    guard binning == other.binning else {
      throw fail(.binning, "binning \(other.binning) differs from \(binning)")
    }
    guard heads == other.heads, tokens == other.tokens else {
      throw fail(.shape, "heads \(other.heads) and tokens \(other.tokens) differ from heads \(heads) and tokens \(tokens)")
    }
    guard model == other.model else {
      throw fail(.model, "model '\(other.model)' differs from '\(model)'")
    }
    if let d = images.firstCommon(with: other.images) {
      throw fail(.duplicateImage, "image \(d.hex) is in both")
    }
    guard images.count + other.images.count <= Self.maxObservations,
      zip(observationCounts, other.observationCounts).allSatisfy({ $0 + $1 <= Self.maxObservations })
    else {
      throw fail(.capacity, "together more than \(Self.maxObservations) images, or maps of one head")
    }
    let a = mutableArrays(), b = other.storage
    let n = entryCount
    // Counts cannot overflow: each is at most its slice's observations, whose sum was checked.
    for i in 0..<(n * binning.bins) { a.counts[i] &+= b.counts[i] }
    for i in 0..<n {
      a.sums[i] &+= b.sums[i]
      a.squares[i] &+= b.squares[i]
    }
    for s in 0..<sliceCount {
      observationCounts[s] += other.observationCounts[s]
      rowEntropySums[s] &+= other.rowEntropySums[s]
    }
    images.formUnion(other.images)
    linearInputRanges = LinearInputRange.widest(linearInputRanges, other.linearInputRanges)
  }
}

extension AttentionStatistics: Equatable {
  /// Same binning, shape, model, images and every count and sum (`origin` is ignored).
  public static func == (a: AttentionStatistics, b: AttentionStatistics) -> Bool {
    a.binning == b.binning && a.heads == b.heads && a.tokens == b.tokens && a.model == b.model
      && a.images == b.images && a.observationCounts == b.observationCounts && a.rowEntropySums == b.rowEntropySums
      && a.linearInputRanges == b.linearInputRanges
      && (a.storage === b.storage || a.storage.sameContents(as: b.storage))
  }
}
