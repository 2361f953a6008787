import EAMRuntime

/// Receives the attention maps of the runtime's forward pass (`Model.attentionObserver`) and
/// folds them into `AttentionStatistics`.
///
/// The runtime calls its observer concurrently from its worker threads, for different
/// (image, head) pairs, so two threads can be observing the same (layer, head) for different
/// images at the same time. `observe` therefore does not touch the statistics: it copies the map
/// into a buffer slot of its own, one per (layer, head, image of the batch), and marks that slot
/// filled (a byte of its own). No two calls write the same memory and no lock is taken. The
/// batch is folded later (`finishBatch` / `flush`), by one thread or by a `ThreadPool` with one
/// (layer, head) slice per task; since folding is exact integer arithmetic, the statistics are
/// the same as a sequential pass whatever the thread count or order.
///
/// The buffer holds `images` images' maps: for DINOv2-S/14, 4.76 M floats = 19 MB per image
/// (8 images: 152 MB). Several forward batches can be collected before one fold: a fold streams
/// through the whole statistics (380 MB) once, so collecting more images per fold makes each
/// image cheaper to fold.
///
/// Windowed attention (Swin): give `mapsPerImage[l]` = windows of layer l and pass
/// `image = imageInBatch · windows + window` to `observe`.
///
/// Use: `observe` (or `observer`) during a forward pass; `finishBatch` after it, from one thread,
/// with no forward pass running; `finish` at the end.
public final class AttentionObserverSink: @unchecked Sendable {
  /// The statistics folded so far (not including images still in the buffer). Reading it while
  /// the sink folds more shares the arrays, so the next fold copies them: prefer `finish()`.
  public private(set) var statistics: AttentionStatistics
  /// Images the buffer holds.
  public let capacity: Int
  /// Maps per image of each layer (1 except for windowed attention).
  public let mapsPerImage: [Int]
  /// Images in the buffer, not yet folded.
  public var pendingImages: Int { pending.count }
  /// Images that still fit in the buffer.
  public var freeImages: Int { capacity - pending.count }
  /// Bytes of the map buffer.
  public var bufferBytes: Int { floats * 4 }

  private let pool: ThreadPool?
  private let floats: Int
  private let buffer: UnsafeMutablePointer<Float>
  /// One byte per (slice, slot): `empty`, `filled`, `wrongTokens` or `observedTwice`.
  private let state: UnsafeMutablePointer<UInt8>
  /// Per slice: first float of its slots, first state byte, slots.
  private let sliceFloats: [Int], sliceStates: [Int], sliceSlots: [Int]
  /// The buffered images, in buffer order.
  private var pending: [ImageDigest] = []

  private static let empty: UInt8 = 0, filled: UInt8 = 1, wrongTokens: UInt8 = 2, observedTwice: UInt8 = 3

  /// A sink for `statistics` whose buffer holds `images` images (at least the forward pass's
  /// batch). `pool`, if given, folds slices in parallel (between forward passes).
  public init(statistics: AttentionStatistics, images: Int, mapsPerImage: [Int]? = nil, pool: ThreadPool? = nil) {
    precondition(images >= 1, "the sink needs room for at least one image")
    let perImage = mapsPerImage ?? [Int](repeating: 1, count: statistics.layers)
    precondition(perImage.count == statistics.layers && perImage.allSatisfy { $0 >= 1 },
                 "mapsPerImage needs one positive count per layer")
    self.statistics = statistics
    capacity = images
    self.mapsPerImage = perImage
    self.pool = pool
    var f: [Int] = [], st: [Int] = [], sl: [Int] = []
    var nf = 0, ns = 0
    for l in 0..<statistics.layers {
      let slots = images * perImage[l], t = statistics.tokens[l]
      for _ in 0..<statistics.heads[l] {
        f.append(nf); st.append(ns); sl.append(slots)
        nf += slots * t * t
        ns += slots
      }
    }
    sliceFloats = f
    sliceStates = st
    sliceSlots = sl
    floats = nf
    buffer = .allocate(capacity: max(nf, 1))
    state = .allocate(capacity: max(ns, 1))
    state.initialize(repeating: Self.empty, count: max(ns, 1))
  }

  deinit {
    buffer.deallocate()
    state.deallocate()
  }

  /// The observer to install as `Model.attentionObserver` (it keeps the sink alive).
  public var observer: AttentionObserver {
    { [self] block, image, head, map, tokens, _, _ in observe(layer: block, image: image, head: head, map: map, tokens: tokens) }
  }

  /// Copies one map into its slot. Safe to call concurrently for distinct (layer, image, head).
  /// `image` is the index within the current forward batch. A map of the wrong size, or a
  /// second map for the same slot, is reported by the next `finishBatch`; indices outside the
  /// sink's shape are a programming error (trap).
  public func observe(layer: Int, image: Int, head: Int, map: UnsafePointer<Float>, tokens: Int) {
    let s = statistics.checkedSlice(layer: layer, head: head)
    let slot = pending.count * mapsPerImage[layer] + image
    precondition(image >= 0 && slot < sliceSlots[s],
                 "image \(image) does not fit the sink's buffer (\(freeImages) free images, \(mapsPerImage[layer]) maps each)")
    let flag = state + sliceStates[s] + slot
    let t = statistics.tokens[layer]
    guard tokens == t else { flag.pointee = Self.wrongTokens; return }
    guard flag.pointee == Self.empty else { flag.pointee = Self.observedTwice; return }
    (buffer + sliceFloats[s] + slot * t * t).update(from: map, count: t * t)
    flag.pointee = Self.filled
  }

  /// Ends a forward batch: checks that every map of its images was observed exactly once, then
  /// keeps the images (SHA-256 of each image file, in batch order) for the next fold. Folds when
  /// another batch of this size would not fit. Throws — leaving the statistics and earlier
  /// batches untouched and discarding this batch's maps — for a missing, duplicated or wrongly
  /// sized map or an image already recorded.
  public func finishBatch(imageSHA256: [String]) throws(StatisticsError) {
    let first = pending.count, n = imageSHA256.count
    do throws(StatisticsError) {
      guard n >= 1, first + n <= capacity else {
        throw StatisticsError(.capacity, "a batch of \(n) images does not fit the sink's \(freeImages) free images")
      }
      try checkSlots(images: first..<(first + n))
      var seen = Set(pending)
      var batch: [ImageDigest] = []
      for hex in imageSHA256 {
        guard let d = ImageDigest(hex: hex) else {
          throw StatisticsError(.invalid, "image hash '\(hex)' is not 64 hex digits")
        }
        guard !statistics.images.contains(d), seen.insert(d).inserted else {
          throw StatisticsError(.duplicateImage, "image \(hex) is already in the calibration set")
        }
        batch.append(d)
      }
      pending += batch
    } catch {
      clearSlots(images: first..<capacity)
      throw error
    }
    if pending.count + n > capacity { try flush() }
  }

  /// Folds every buffered image into `statistics`. Throws, folding nothing, if that would exceed
  /// the statistics' capacity.
  public func flush() throws(StatisticsError) {
    let images = pending.count
    guard images > 0 else { return }
    guard statistics.imageCount + images <= AttentionStatistics.maxObservations else {
      throw StatisticsError(.capacity, "more than \(AttentionStatistics.maxObservations) calibration images")
    }
    for l in 0..<statistics.layers {
      for h in 0..<statistics.heads[l] {
        _ = try statistics.checkAdd(layer: l, head: h, maps: images * mapsPerImage[l], tokens: statistics.tokens[l])
      }
    }
    let arrays = statistics.mutableArrays()
    let slices = statistics.sliceCount, binning = statistics.binning
    let sliceLayer = (0..<slices).map { statistics.layer(ofSlice: $0) }
    let sliceTokens = sliceLayer.map { statistics.tokens[$0] }
    let sliceMaps = sliceLayer.map { images * mapsPerImage[$0] }
    let entryBase = statistics.entryBase
    var entropies = [UInt64](repeating: 0, count: slices)
    entropies.withUnsafeMutableBufferPointer { buffer in
      let out = buffer.baseAddress!
      let fold = { (s: Int) in
        let t = sliceTokens[s], base = self.buffer + self.sliceFloats[s]
        let maps = (0..<sliceMaps[s]).map { UnsafePointer(base + $0 * t * t) }
        out[s] = maps.withUnsafeBufferPointer {
          AttentionStatistics.fold(tokens: t, maps: $0, binning: binning, entryBase: entryBase[s], arrays: arrays)
        }
      }
      if let pool, pool.threadCount > 1 {
        pool.parallelFor(slices) { fold($0) }
      } else {
        for s in 0..<slices { fold(s) }
      }
    }
    for s in 0..<slices {
      statistics.rowEntropySums[s] &+= entropies[s]
      statistics.observationCounts[s] += sliceMaps[s]
    }
    for d in pending { _ = statistics.images.insert(d) }
    clearSlots(images: 0..<capacity)
    pending = []
  }

  /// Folds what is buffered and returns the statistics.
  public func finish() throws(StatisticsError) -> AttentionStatistics {
    try flush()
    return statistics
  }

  /// Every slot of `images` filled once, and no slot after them used.
  private func checkSlots(images: Range<Int>) throws(StatisticsError) {
    for l in 0..<statistics.layers {
      let per = mapsPerImage[l]
      for h in 0..<statistics.heads[l] {
        let s = statistics.sliceBase[l] + h
        for slot in (images.lowerBound * per)..<sliceSlots[s] {
          let v = state[sliceStates[s] + slot]
          let inBatch = slot < images.upperBound * per
          if v == Self.filled && inBatch { continue }
          if v == Self.empty && !inBatch { continue }
          let image = slot / per - images.lowerBound, what: String
          switch v {
          case Self.empty: what = "was not observed"
          case Self.wrongTokens: what = "has the wrong size (layer \(l) maps are \(statistics.tokens[l])×\(statistics.tokens[l]))"
          case Self.observedTwice: what = "was observed twice"
          default: what = "was observed, but the batch has only \(images.count) images"
          }
          let window = per > 1 ? " window \(slot % per)" : ""
          throw StatisticsError(.shape, "layer \(l) head \(h) image \(image)\(window) of the batch: the map \(what)")
        }
      }
    }
  }

  private func clearSlots(images: Range<Int>) {
    for l in 0..<statistics.layers {
      let per = mapsPerImage[l]
      for h in 0..<statistics.heads[l] {
        let s = statistics.sliceBase[l] + h
        let lo = images.lowerBound * per, hi = min(images.upperBound * per, sliceSlots[s])
        if lo < hi { (state + sliceStates[s] + lo).update(repeating: Self.empty, count: hi - lo) }
      }
    }
  }
}
