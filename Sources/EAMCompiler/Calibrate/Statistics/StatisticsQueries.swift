/// What the selection pass reads: per-entry entropy, mean, variance and standard deviation, and
/// per-head entropy. Entries are numbered `query · tokens + key` within their (layer, head).
/// All values are computed from the exact integer statistics with IEEE operations only, so they
/// are identical on every platform.
extension AttentionStatistics {
  /// Index of the first entry of (layer, head) in the storage; checks `entry` if given.
  private func base(_ layer: Int, _ head: Int, entry: Int? = nil) -> (slice: Int, first: Int) {
    let s = checkedSlice(layer: layer, head: head)
    if let entry {
      precondition((0..<(tokens[layer] * tokens[layer])).contains(entry),
                   "entry \(entry) of a \(tokens[layer])×\(tokens[layer]) map")
    }
    return (s, entryBase[s])
  }

  /// The histogram of one entry: `binning.bins` counts summing to `observations(layer:head:)`.
  public func histogram(layer: Int, head: Int, entry: Int) -> [Int] {
    let (_, first) = base(layer, head, entry: entry)
    let row = storage.counts + (first + entry) * binning.bins
    return (0..<binning.bins).map { Int(row[$0]) }
  }

  /// Shannon entropy, in bits, of one entry's histogram (0 before any observation).
  public func entropy(layer: Int, head: Int, entry: Int) -> Double {
    let (s, first) = base(layer, head, entry: entry)
    return Self.entropyBits(storage.counts + (first + entry) * binning.bins, bins: binning.bins,
                            observations: observationCounts[s])
  }

  /// Mean of one entry's coefficient over the observations (0 before any).
  public func mean(layer: Int, head: Int, entry: Int) -> Double {
    let (s, first) = base(layer, head, entry: entry)
    return Self.mean(sum: storage.sums[first + entry], observations: observationCounts[s])
  }

  /// Population variance (divided by n) of one entry's coefficient (0 before any observation).
  public func variance(layer: Int, head: Int, entry: Int) -> Double {
    let (s, first) = base(layer, head, entry: entry)
    return Self.variance(sum: storage.sums[first + entry], squares: storage.squares[first + entry],
                         observations: observationCounts[s])
  }

  /// Population standard deviation of one entry's coefficient.
  public func std(layer: Int, head: Int, entry: Int) -> Double {
    variance(layer: layer, head: head, entry: entry).squareRoot()
  }

  /// The head's attention entropy, the paper's ranking of heads: the Shannon entropy
  /// `−Σ_j p_ij ln p_ij` (nats) of each attention row, averaged over rows and observed maps.
  public func headEntropy(layer: Int, head: Int) -> Double {
    let s = checkedSlice(layer: layer, head: head)
    let rows = observationCounts[s] * tokens[layer]
    guard rows > 0 else { return 0 }
    return Double(rowEntropySums[s]) / Double(1 << Self.entropyScaleBits) / Double(rows)
  }

  /// `entropy(layer:head:entry:)` of every entry of (layer, head), in entry order.
  public func entryEntropies(layer: Int, head: Int) -> [Float] {
    let (s, first) = base(layer, head)
    let n = observationCounts[s], b = binning.bins
    return (0..<(tokens[layer] * tokens[layer])).map { e in
      Float(Self.entropyBits(storage.counts + (first + e) * b, bins: b, observations: n))
    }
  }

  /// Entropy (bits) of every entry of (layer, head) at an absolute resolution: all bins whose upper
  /// edge is at most `resolution` count as one bin. Half-octave bins measure relative change,
  /// which ranks a coefficient wobbling between 1e-4 and 1e-3 as informative although freezing
  /// it costs nothing; at resolution 1/256 such an entry has entropy 0, as with the paper-style
  /// uniform 8-bit bins on [0, 1], while large coefficients keep their half-octave detail.
  public func entryEntropies(layer: Int, head: Int, resolution: Float) -> [Float] {
    let (s, first) = base(layer, head)
    let n = observationCounts[s], b = binning.bins
    var merged = 0
    while merged < b && binning.upperEdge(merged) <= resolution { merged += 1 }
    guard merged > 1 else { return entryEntropies(layer: layer, head: head) }
    let kept = b - merged + 1
    var scratch = [UInt16](repeating: 0, count: kept)
    return (0..<(tokens[layer] * tokens[layer])).map { e in
      let row = storage.counts + (first + e) * b
      var low = 0
      for i in 0..<merged { low += Int(row[i]) }
      scratch[0] = UInt16(low)
      for i in merged..<b { scratch[i - merged + 1] = row[i] }
      return scratch.withUnsafeBufferPointer { Float(Self.entropyBits($0.baseAddress!, bins: kept, observations: n)) }
    }
  }

  /// `mean(layer:head:entry:)` of every entry of (layer, head).
  public func entryMeans(layer: Int, head: Int) -> [Float] {
    let (s, first) = base(layer, head)
    let n = observationCounts[s]
    return (0..<(tokens[layer] * tokens[layer])).map { e in Float(Self.mean(sum: storage.sums[first + e], observations: n)) }
  }

  /// `variance(layer:head:entry:)` of every entry of (layer, head).
  public func entryVariances(layer: Int, head: Int) -> [Float] {
    let (s, first) = base(layer, head)
    let n = observationCounts[s]
    return (0..<(tokens[layer] * tokens[layer])).map { e in
      Float(Self.variance(sum: storage.sums[first + e], squares: storage.squares[first + e], observations: n))
    }
  }

  /// The `q`-quantile of every entry of (layer, head), read off its histogram: linear within the
  /// bin where the cumulative count reaches `q · n` (the underflow bin spans [0, lowest edge)).
  public func entryQuantiles(layer: Int, head: Int, q: Double) -> [Float] {
    let (s, first) = base(layer, head)
    let n = observationCounts[s], b = binning.bins
    guard n > 0 else { return [Float](repeating: 0, count: tokens[layer] * tokens[layer]) }
    let target = q * Double(n)
    let lower = (0..<b).map { Double(binning.lowerEdge($0)) }
    let upper = (0..<b).map { Double(binning.upperEdge($0)) }
    return (0..<(tokens[layer] * tokens[layer])).map { e in
      let row = storage.counts + (first + e) * b
      var cumulative = 0.0
      for i in 0..<b {
        let c = Double(row[i])
        if c > 0, cumulative + c >= target {
          let f = max(0, min(1, (target - cumulative) / c))
          return Float(lower[i] + f * (upper[i] - lower[i]))
        }
        cumulative += c
      }
      return 1
    }
  }

  /// `std(layer:head:entry:)` of every entry of (layer, head).
  public func entryStds(layer: Int, head: Int) -> [Float] {
    entryVariances(layer: layer, head: head).map { $0.squareRoot() }
  }

  // MARK: From the integers

  static func entropyBits(_ counts: UnsafePointer<UInt16>, bins: Int, observations n: Int) -> Double {
    guard n > 0 else { return 0 }
    let table = DeterministicLog.countTimesLog2
    var sum = 0.0
    for i in 0..<bins {
      let c = Int(counts[i])
      if c == n { return 0 }
      sum += table[c]
    }
    // H = −Σ (c/n) log2(c/n) = log2 n − (Σ c log2 c) / n
    return max(0, DeterministicLog.log2(Double(n)) - sum / Double(n))
  }

  static func mean(sum: UInt64, observations n: Int) -> Double {
    guard n > 0 else { return 0 }
    return Double(sum) / Double(n) / Double(1 << valueScaleBits)
  }

  /// (n·Σq² − (Σq)²) / n² in 128-bit integers, then scaled: exact up to the final roundings.
  static func variance(sum: UInt64, squares: UInt64, observations n: Int) -> Double {
    guard n > 0 else { return 0 }
    let a = squares.multipliedFullWidth(by: UInt64(n))
    let b = sum.multipliedFullWidth(by: sum)
    // a ≥ b by Cauchy–Schwarz; guard anyway against inconsistent input.
    guard a.high > b.high || (a.high == b.high && a.low >= b.low) else { return 0 }
    let (low, borrow) = a.low.subtractingReportingOverflow(b.low)
    let high = a.high - b.high - (borrow ? 1 : 0)
    let numerator = Double(high) * 0x1p64 + Double(low)
    let scale = Double(1 << valueScaleBits)
    return numerator / (Double(n) * Double(n)) / (scale * scale)
  }
}
