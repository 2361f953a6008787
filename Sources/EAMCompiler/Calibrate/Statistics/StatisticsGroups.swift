/// Statistics of a group of consecutive layers, for calibration in passes over the images: each
/// pass folds the maps of its group's layers only, into statistics of those layers, which are
/// then either encoded to the file (`StatisticsFileHeader.take`) or were a view of the
/// statistics of every layer (`init(layers:viewing:)`, `absorb`). Since every count and sum is
/// per entry or per head, the layers' values are the same as in one pass over every layer.
extension AttentionStatistics {
  /// Empty statistics of the layers `range` of `whole`, of the same model and binning, the
  /// arrays of which are `whole`'s own (folding into them fills `whole`'s entries in place).
  /// `whole` must not share its arrays with other statistics.
  init(layers range: Range<Int>, viewing whole: AttentionStatistics) {
    precondition(!range.isEmpty && range.lowerBound >= 0 && range.upperBound <= whole.layers, "layers outside the statistics")
    binning = whole.binning
    heads = Array(whole.heads[range])
    tokens = Array(whole.tokens[range])
    model = whole.model
    let firstSlice = whole.sliceBase[range.lowerBound], lastSlice = whole.sliceBase[range.upperBound]
    let firstEntry = whole.entryBase[firstSlice]
    sliceBase = whole.sliceBase[range.lowerBound...range.upperBound].map { $0 - firstSlice }
    entryBase = whole.entryBase[firstSlice...lastSlice].map { $0 - firstEntry }
    storage = StatisticsStorage(viewOf: whole.storage, entries: firstEntry..<whole.entryBase[lastSlice])
    observationCounts = [Int](repeating: 0, count: lastSlice - firstSlice)
    rowEntropySums = [UInt64](repeating: 0, count: lastSlice - firstSlice)
  }

  /// Takes the per-head records and the images of `group`, statistics of the layers `range`
  /// made with `init(layers:viewing:)` of these (whose arrays are already in place). Every group
  /// must have seen the same images; the first one taken sets them.
  mutating func absorb(_ group: AttentionStatistics, layers range: Range<Int>) throws(StatisticsError) {
    let first = sliceBase[range.lowerBound], last = sliceBase[range.upperBound]
    precondition(group.sliceCount == last - first, "the group does not have these layers' heads")
    // Folded into a copy (copy-on-write of a shared view), its counts would be lost.
    precondition(group.storage.isView(of: storage), "the group's arrays are not a view of these statistics'")
    try Self.checkSameImages(group.images, as: images, recorded: imageCount > 0)
    observationCounts.replaceSubrange(first..<last, with: group.observationCounts)
    rowEntropySums.replaceSubrange(first..<last, with: group.rowEntropySums)
    images = group.images
    if !group.linearInputRanges.isEmpty { linearInputRanges = group.linearInputRanges }
  }

  /// Every pass must see the same image files: they are read again for each one.
  static func checkSameImages(_ images: CalibrationImages, as recorded: CalibrationImages, recorded isSet: Bool)
    throws(StatisticsError)
  {
    guard !isSet || images == recorded else {
      throw StatisticsError(.invalid, "the calibration images changed between passes over the images")
    }
  }
}

extension StatisticsFileHeader {
  /// The header of statistics of every layer of a model, before any pass: no observations, no
  /// images.
  init(binning: Binning, heads: [Int], tokens: [Int], model: String) {
    self.init(binning: binning, heads: heads, tokens: tokens, model: model,
              observations: [Int](repeating: 0, count: heads.reduce(0, +)),
              entropies: [UInt64](repeating: 0, count: heads.reduce(0, +)), images: CalibrationImages())
  }

  /// Takes the per-head records and the images of `group`, the statistics of layers `range`
  /// after their pass; every group must have seen the same images (the first one taken sets
  /// them).
  mutating func take(_ group: AttentionStatistics, layers range: Range<Int>) throws(StatisticsError) {
    let first = heads[..<range.lowerBound].reduce(0, +)
    precondition(Array(heads[range]) == group.heads && Array(tokens[range]) == group.tokens, "the group is not these layers")
    try AttentionStatistics.checkSameImages(group.images, as: images, recorded: images.count > 0)
    observations.replaceSubrange(first..<(first + group.sliceCount), with: group.observationCounts)
    entropies.replaceSubrange(first..<(first + group.sliceCount), with: group.rowEntropySums)
    images = group.images
    if !group.linearInputRanges.isEmpty { linearInputRanges = group.linearInputRanges }
  }
}
