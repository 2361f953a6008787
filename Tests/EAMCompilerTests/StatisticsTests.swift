import EAMRuntime
import Foundation
import Testing

@testable import EAMCompiler

/// A small deterministic generator (SplitMix64).
struct SeededRandom {
  var state: UInt64
  init(_ seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [0, 1).
  mutating func unit() -> Double { Double(next() >> 11) / 0x1p53 }
  mutating func normal() -> Double {
    let u = max(unit(), 1e-300), v = unit()
    return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
  }
}

/// Softmax rows of random logits with varied sharpness: mostly small values, some large ones,
/// some exact zeros (very sharp rows).
func softmaxMap(tokens t: Int, seed: UInt64) -> [Float] {
  var rng = SeededRandom(seed)
  var map = [Float](repeating: 0, count: t * t)
  for i in 0..<t {
    let sharpness = [0.5, 2.0, 8.0, 60.0][Int(rng.next() % 4)]
    let logits = (0..<t).map { _ in Float(rng.normal() * sharpness) }
    let m = logits.max()!
    var e = logits.map { Foundation.exp($0 - m) }
    let sum = e.reduce(0, +)
    for j in 0..<t { e[j] /= sum }
    for j in 0..<t { map[i * t + j] = e[j] }
  }
  return map
}

/// A distinct fake image hash per index.
func imageHash(_ i: Int) -> String { SHA256.hex(Array("image \(i)".utf8)) }

/// The shape used by most tests: two layers of different sizes.
func smallStatistics(_ binning: Binning = .standard, model: String = "test-model") throws -> AttentionStatistics {
  try AttentionStatistics(layers: 2, heads: [2, 3], tokens: [5, 7], binning: binning, model: model)
}

/// Adds image `i` (every layer and head) and records it.
func addImage(_ i: Int, to s: inout AttentionStatistics) throws {
  for l in 0..<s.layers {
    for h in 0..<s.heads[l] {
      let t = s.tokens[l]
      let map = softmaxMap(tokens: t, seed: UInt64(i * 1000 + l * 100 + h))
      try map.withUnsafeBufferPointer { try s.add(layer: l, head: h, map: $0.baseAddress!, tokens: t) }
    }
  }
  try s.finishImage(sha256: imageHash(i))
}

func statistics(images: some Sequence<Int>, binning: Binning = .standard) throws -> AttentionStatistics {
  var s = try smallStatistics(binning)
  for i in images { try addImage(i, to: &s) }
  return s
}

func expectError(_ kind: StatisticsError.Kind, naming path: String? = nil, _ body: () throws -> Void) {
  do {
    try body()
    Issue.record("expected a \(kind) error")
  } catch let error as StatisticsError {
    #expect(error.kind == kind, "\(error)")
    #expect(!error.description.contains("\n"))
    if let path { #expect(error.description.contains(path), "\(error)") }
  } catch {
    Issue.record("unexpected error \(error)")
  }
}

@Suite struct BinningTests {
  @Test func standardEdges() {
    let b = Binning.standard
    #expect(b.bins == 32)
    #expect(b.lowerEdge(1) == 1.5 * 0x1p-16)
    #expect(b.lowerEdge(31) == 0.75 && b.upperEdge(31) == 1)
    #expect(b.lowerEdge(30) == 0.5)
    #expect(b.bin(of: 0) == 0 && b.bin(of: 2e-5) == 0 && b.bin(of: 2.3e-5) == 1)
    #expect(b.bin(of: 1) == 31 && b.bin(of: 0.75) == 31 && b.bin(of: 0.7499) == 30)
    #expect(b.bin(of: 1.0 / 257) == 15)  // [1.5·2^-9, 2^-8): a uniform DINOv2 row sits mid-range
    // Clamping: negatives and -0 to 0, above 1 and NaN to 1.
    #expect(b.bin(of: -0.5) == 0 && b.bin(of: -0.0) == 0 && b.bin(of: -.nan) == 0)
    #expect(b.bin(of: 2) == 31 && b.bin(of: .infinity) == 31 && b.bin(of: .nan) == 31)
  }

  @Test func everyBinHoldsItsRange() throws {
    for (m, n) in [(0, 20), (1, 32), (2, 64), (3, 40)] {
      let b = try Binning(mantissaBits: m, bins: n)
      for i in 0..<n {
        let lo = b.lowerEdge(i), hi = b.upperEdge(i)
        #expect(lo < hi)
        #expect(b.bin(of: lo) == i)
        #expect(b.bin(of: hi.nextDown) == i)
        if i > 0 { #expect(b.bin(of: lo.nextDown) == i - 1) }
      }
    }
  }

  @Test func invalidBinningRefused() {
    expectError(.binning) { _ = try Binning(mantissaBits: 5, bins: 32) }
    expectError(.binning) { _ = try Binning(mantissaBits: 1, bins: 1) }
    expectError(.binning) { _ = try Binning(mantissaBits: 0, bins: 200) }  // below the normal range
  }
}

@Suite struct StatisticsTests {
  /// Adds 1×1 maps with the given values to a one-entry statistics.
  func oneEntry(_ values: [Float], binning: Binning = .standard) throws -> AttentionStatistics {
    var s = try AttentionStatistics(layers: 1, heads: [1], tokens: [1], binning: binning, model: "m")
    for v in values {
      var x = v
      try s.add(layer: 0, head: 0, map: &x, tokens: 1)
    }
    return s
  }

  @Test func entropyOfKnownHistograms() throws {
    let b = Binning.standard
    let a: Float = 0.004, c: Float = 0.3, d: Float = 1e-6, e: Float = 0.9
    #expect(Set([a, c, d, e].map(b.bin(of:))).count == 4)
    // One bin: 0 bits; two equal bins: 1 bit; four equal bins: 2 bits; {1/2, 1/4, 1/4}: 1.5 bits.
    #expect(try oneEntry([a, a, a, a, a]).entropy(layer: 0, head: 0, entry: 0) == 0)
    #expect(try oneEntry([a, c, c, a]).entropy(layer: 0, head: 0, entry: 0) == 1)
    #expect(try oneEntry([a, c, d, e]).entropy(layer: 0, head: 0, entry: 0) == 2)
    #expect(abs(try oneEntry([a, a, c, d]).entropy(layer: 0, head: 0, entry: 0) - 1.5) < 1e-15)
    // {3/4, 1/4}: 0.8112781244591328 bits.
    let h = try oneEntry([a, a, a, e]).entropy(layer: 0, head: 0, entry: 0)
    #expect(abs(h - 0.811_278_124_459_132_8) < 1e-15)
    // Values in one bin have the same entropy however different they are.
    #expect(try oneEntry([0.5, 0.74, 0.6]).entropy(layer: 0, head: 0, entry: 0) == 0)
    #expect(try oneEntry([a, c]).histogram(layer: 0, head: 0, entry: 0).reduce(0, +) == 2)
    #expect(try oneEntry([]).entropy(layer: 0, head: 0, entry: 0) == 0)
  }

  @Test func quantilesLieInTheBinOfTheExactQuantile() throws {
    let b = Binning.standard
    // Skewed like a frozen attention coefficient: mostly small, a few large.
    let values: [Float] = [0.001, 0.0012, 0.0013, 0.002, 0.0021, 0.003, 0.2, 0.5, 0.9]
    let s = try oneEntry(values)
    let median = s.entryQuantiles(layer: 0, head: 0, q: 0.5)[0]
    #expect(b.bin(of: median) == b.bin(of: 0.0021))  // the 5th of 9 values
    #expect(median < s.entryMeans(layer: 0, head: 0)[0] / 10)
    // q = 1 reaches the top of the largest value's bin; a single value's median is in its bin.
    #expect(s.entryQuantiles(layer: 0, head: 0, q: 1)[0] == b.upperEdge(b.bin(of: 0.9)))
    #expect(b.bin(of: try oneEntry([0.04]).entryQuantiles(layer: 0, head: 0, q: 0.5)[0]) == b.bin(of: 0.04))
    #expect(try oneEntry([]).entryQuantiles(layer: 0, head: 0, q: 0.5) == [0])
  }

  @Test func meanAndVarianceMatchDoubleReference() throws {
    var s = try smallStatistics()
    let images = 37
    for i in 0..<images { try addImage(i, to: &s) }
    for l in 0..<s.layers {
      let t = s.tokens[l]
      for h in 0..<s.heads[l] {
        let maps = (0..<images).map { softmaxMap(tokens: t, seed: UInt64($0 * 1000 + l * 100 + h)) }
        let means = s.entryMeans(layer: l, head: h), stds = s.entryStds(layer: l, head: h)
        for e in 0..<(t * t) {
          let v = maps.map { Double($0[e]) }
          let mean = v.reduce(0, +) / Double(images)
          let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(images)
          // The fixed point rounds each value by at most 2^-24.
          #expect(abs(s.mean(layer: l, head: h, entry: e) - mean) <= 0x1p-24)
          #expect(abs(s.variance(layer: l, head: h, entry: e) - variance) <= 0x1p-23 * (mean + 0x1p-24) + 1e-15)
          #expect(abs(s.std(layer: l, head: h, entry: e) - variance.squareRoot()) <= 1e-6)
          #expect(abs(Double(means[e]) - mean) <= 1e-6 && abs(Double(stds[e]) - variance.squareRoot()) <= 1e-6)
          // Against the quantised values the integer formulas are exact up to the last rounding.
          let q = v.map { ($0 * 0x1p23).rounded(.toNearestOrEven) / 0x1p23 }
          let qm = q.reduce(0, +) / Double(images)
          let qv = q.map { ($0 - qm) * ($0 - qm) }.reduce(0, +) / Double(images)
          #expect(abs(s.mean(layer: l, head: h, entry: e) - qm) <= 1e-15)
          #expect(abs(s.variance(layer: l, head: h, entry: e) - qv) <= 1e-12 * qv + 1e-18)
        }
      }
    }
    #expect(s.imageCount == images && s.observations(layer: 1, head: 2) == images)
  }

  @Test func headEntropyOfUniformAndOneHotRows() throws {
    var s = try AttentionStatistics(layers: 1, heads: [2], tokens: [257], model: "m")
    let uniform = [Float](repeating: 1 / 257, count: 257 * 257)
    // Subnormal values count as 0.
    var oneHot = [Float](repeating: .leastNonzeroMagnitude, count: 257 * 257)
    for i in 0..<257 { oneHot[i * 257 + (i * 7) % 257] = 1 }
    for _ in 0..<3 {
      try uniform.withUnsafeBufferPointer { try s.add(layer: 0, head: 0, map: $0.baseAddress!, tokens: 257) }
      try oneHot.withUnsafeBufferPointer { try s.add(layer: 0, head: 1, map: $0.baseAddress!, tokens: 257) }
    }
    #expect(abs(s.headEntropy(layer: 0, head: 0) - Foundation.log(257.0)) < 2e-6)
    #expect(s.headEntropy(layer: 0, head: 1) == 0)
    #expect(s.mean(layer: 0, head: 1, entry: 1) == 0 && s.histogram(layer: 0, head: 1, entry: 1)[0] == 3)
    // A random row against a Double reference.
    let map = softmaxMap(tokens: 257, seed: 7)
    var r = try AttentionStatistics(layers: 1, heads: [1], tokens: [257], model: "m")
    try map.withUnsafeBufferPointer { try r.add(layer: 0, head: 0, map: $0.baseAddress!, tokens: 257) }
    var reference = 0.0
    for v in map where v > 0 { reference -= Double(v) * Foundation.log(Double(v)) }
    #expect(abs(r.headEntropy(layer: 0, head: 0) - reference / 257) < 1e-5 * reference / 257)
  }

  @Test func invalidValuesAreClamped() throws {
    let s = try oneEntry([-1, .nan, 2, .infinity, 0.25])
    #expect(s.histogram(layer: 0, head: 0, entry: 0)[0] == 1)
    #expect(s.histogram(layer: 0, head: 0, entry: 0)[31] == 3)
    #expect(s.mean(layer: 0, head: 0, entry: 0) == (0 + 1 + 1 + 1 + 0.25) / 5)
  }

  @Test func mergedShardsAreBitIdenticalToOnePass() throws {
    let all = try statistics(images: 0..<12)
    let bytes = all.encoded()
    let shards = [try statistics(images: [3, 7, 0, 11]), try statistics(images: [5, 1]),
                  try statistics(images: [2, 4, 6, 8, 9, 10])]
    for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
      var merged = shards[order[0]]
      try merged.merge(shards[order[1]])
      try merged.merge(shards[order[2]])
      #expect(merged == all)
      #expect(merged.encoded() == bytes)
      #expect(merged.calibrationSetSHA256 == all.calibrationSetSHA256)
    }
    // Nested: a + (b + c), and merging into an empty statistics.
    var bc = shards[1]
    try bc.merge(shards[2])
    var nested = try smallStatistics()
    try nested.merge(shards[0])
    try nested.merge(bc)
    #expect(nested.encoded() == bytes)
    // Merging does not change the shards (copy on write).
    #expect(shards[1] == (try statistics(images: [5, 1])))
  }

  @Test func batchedAddEqualsOneByOne() throws {
    var one = try AttentionStatistics(layers: 1, heads: [1], tokens: [33], model: "m")
    var batched = one
    let maps = (0..<9).map { softmaxMap(tokens: 33, seed: UInt64(100 + $0)) }
    for m in maps { try m.withUnsafeBufferPointer { try one.add(layer: 0, head: 0, map: $0.baseAddress!, tokens: 33) } }
    let pointers = maps.map { $0.withUnsafeBufferPointer { $0.baseAddress! } }  // arrays outlive the use below
    try withExtendedLifetime(maps) {
      try pointers.withUnsafeBufferPointer { try batched.add(layer: 0, head: 0, maps: $0, tokens: 33) }
    }
    #expect(one == batched && one.encoded() == batched.encoded())
  }

  @Test func foldMatchesReferenceEntropyAndGroupsOfMaps() throws {
    // 300 maps (more than one pass of 256), sides with and without a remainder of 16.
    for t in [17, 16, 5, 37] {
      let maps = (0..<300).map { softmaxMap(tokens: t, seed: UInt64(t * 1000 + $0)) }
      var one = try AttentionStatistics(layers: 1, heads: [1], tokens: [t], model: "m")
      var batched = one
      for m in maps { try m.withUnsafeBufferPointer { try one.add(layer: 0, head: 0, map: $0.baseAddress!, tokens: t) } }
      let pointers = maps.map { $0.withUnsafeBufferPointer { $0.baseAddress! } }
      try withExtendedLifetime(maps) {
        try pointers.withUnsafeBufferPointer { try batched.add(layer: 0, head: 0, maps: $0, tokens: t) }
      }
      #expect(one == batched)
      let reference = maps.reduce(UInt64(0)) { acc, m in
        acc + m.withUnsafeBufferPointer { RowEntropy.fixedPointSum(map: $0.baseAddress!, tokens: t) }
      }
      #expect(one.rowEntropySums[0] == reference)
      // Σq, Σq² and the histogram against the definition.
      for e in [0, t + 1, t * t - 1] {
        var histogram = [Int](repeating: 0, count: 32)
        for m in maps { histogram[Binning.standard.bin(of: m[e])] += 1 }
        #expect(one.histogram(layer: 0, head: 0, entry: e) == histogram)
        let q = maps.map { UInt64(($0[e] * 0x1p23).rounded(.toNearestOrEven)) }
        #expect(one.storage.sums[e] == q.reduce(0, +))
        #expect(one.storage.squares[e] == q.map { $0 * $0 }.reduce(0, +))
      }
    }
  }

  @Test func encodeDecodeRoundTrip() throws {
    let s = try statistics(images: 0..<5)
    let bytes = s.encoded()
    #expect(bytes.count > 100 && Array(bytes.prefix(8)) == Array("EAMSTAT1".utf8))
    let decoded = try AttentionStatistics(decoding: bytes, path: "a.eamstats")
    #expect(decoded == s)
    #expect(decoded.origin == "a.eamstats")
    #expect(decoded.encoded() == bytes)
    #expect(decoded.imageCount == 5 && decoded.model == "test-model")
    #expect(decoded.entryEntropies(layer: 1, head: 2) == s.entryEntropies(layer: 1, head: 2))
    #expect(decoded.headEntropy(layer: 0, head: 1) == s.headEntropy(layer: 0, head: 1))
    // Empty statistics too, and through a file.
    let empty = try smallStatistics()
    #expect(try AttentionStatistics(decoding: empty.encoded(), path: "e") == empty)
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("stats-\(getpid()).eamstats").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try s.write(to: path)
    #expect(try AttentionStatistics(contentsOf: path) == s)
    expectError(.io, naming: path + ".missing") { _ = try AttentionStatistics(contentsOf: path + ".missing") }
  }

  @Test func damagedFilesRefused() throws {
    let bytes = try statistics(images: 0..<3).encoded()
    let path = "damaged.eamstats"
    for position in [12, 20, 40, 60, bytes.count / 2, bytes.count - 10, bytes.count - 1] {
      var damaged = bytes
      damaged[position] ^= 0x10
      expectError(.checksum, naming: path) { _ = try AttentionStatistics(decoding: damaged, path: path) }
    }
    for length in [0, 7, 30, 51, 200, bytes.count / 2, bytes.count - 1] {
      do {
        _ = try AttentionStatistics(decoding: Array(bytes.prefix(length)), path: path)
        Issue.record("a file truncated to \(length) bytes was accepted")
      } catch {
        #expect([.checksum, .truncated, .notStatistics].contains(error.kind), "\(error)")
        #expect(error.description.hasPrefix(path + ": ") && !error.description.contains("\n"))
      }
    }
    var notStats = bytes
    notStats[0] = UInt8(ascii: "X")
    expectError(.notStatistics, naming: path) { _ = try AttentionStatistics(decoding: notStats, path: path) }
    // Well-formed checksum, inconsistent contents: observations of the first head raised by one.
    let s = try smallStatistics()
    var forged = s.encoded()
    let headRecords = 48 + s.model.utf8.count + 8 * s.layers
    forged[headRecords] = 1
    resign(&forged)
    expectError(.invalid, naming: path) { _ = try AttentionStatistics(decoding: forged, path: path) }
    // A section length beyond the file.
    var long = s.encoded()
    let firstSection = headRecords + 16 * s.sliceCount
    long[firstSection + 4] = 0x7F
    resign(&long)
    expectError(.truncated, naming: path) { _ = try AttentionStatistics(decoding: long, path: path) }
  }

  /// Recomputes the trailing CRC-32C.
  func resign(_ bytes: inout [UInt8]) {
    let crc = CRC32CReference.checksum(Array(bytes.dropLast(4)))
    for i in 0..<4 { bytes[bytes.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
  }

  @Test func mismatchedMergesRefused() throws {
    let base = try statistics(images: 0..<2)
    func decoded(_ s: AttentionStatistics) throws -> AttentionStatistics {
      try AttentionStatistics(decoding: s.encoded(), path: "other.eamstats")
    }
    var binning = try smallStatistics(try Binning(mantissaBits: 2, bins: 64))
    try addImage(5, to: &binning)
    let shape = try AttentionStatistics(layers: 2, heads: [2, 3], tokens: [5, 6], model: "test-model")
    let model = try smallStatistics(model: "another-model")
    let overlap = try statistics(images: [1, 2])
    for (other, kind) in [(binning, StatisticsError.Kind.binning), (shape, .shape), (model, .model),
                          (overlap, .duplicateImage)]
    {
      var target = base
      expectError(kind, naming: "other.eamstats") { try target.merge(try decoded(other)) }
      #expect(target == base)
    }
  }

  @Test func capacityAndDuplicatesRefused() throws {
    var s = try AttentionStatistics(layers: 1, heads: [1], tokens: [1], model: "m")
    let values = [Float](repeating: 0.5, count: AttentionStatistics.maxObservations)
    let pointers = values.withUnsafeBufferPointer { b in (0..<b.count).map { b.baseAddress! + $0 } }
    try withExtendedLifetime(values) {
      try pointers.withUnsafeBufferPointer { try s.add(layer: 0, head: 0, maps: $0, tokens: 1) }
    }
    #expect(s.histogram(layer: 0, head: 0, entry: 0)[30] == 65535)
    var x: Float = 0.5
    expectError(.capacity) { try s.add(layer: 0, head: 0, map: &x, tokens: 1) }
    expectError(.shape) { try s.add(layer: 1, head: 0, map: &x, tokens: 1) }
    var t = try AttentionStatistics(layers: 1, heads: [1], tokens: [2], model: "m")
    expectError(.shape) { try t.add(layer: 0, head: 0, map: &x, tokens: 1) }
    try t.finishImage(sha256: imageHash(1))
    expectError(.duplicateImage) { try t.finishImage(sha256: imageHash(1)) }
    expectError(.invalid) { try t.finishImage(sha256: "not a hash") }
    #expect(t.containsImage(sha256: imageHash(1)) && !t.containsImage(sha256: imageHash(2)))
  }

  @Test func dinov2StatisticsFitTheMemoryBudget() throws {
    let heads = [Int](repeating: 6, count: 12), tokens = [Int](repeating: 257, count: 12)
    let bytes = AttentionStatistics.byteCount(heads: heads, tokens: tokens)
    #expect(bytes == 4_755_528 * 80)  // 380 MB: 32 u16 counts + Σq + Σq² per entry
    #expect(bytes < 1 << 30)
    let s = try AttentionStatistics(layers: 12, heads: heads, tokens: tokens, model: "dinov2")
    #expect(s.byteCount == bytes && s.entryCount == 4_755_528)
    let sink = AttentionObserverSink(statistics: s, images: 8)
    #expect(sink.bufferBytes == 8 * 4_755_528 * 4)  // 152 MB
    #expect(bytes + sink.bufferBytes < 1 << 30)
  }
}

@Suite struct ObserverSinkTests {
  /// Maps of image `i` as the runtime would produce them.
  func map(_ i: Int, _ l: Int, _ h: Int, tokens: Int) -> [Float] {
    softmaxMap(tokens: tokens, seed: UInt64(i * 1000 + l * 100 + h))
  }

  /// Runs `images` through a sink in batches, observing like ViTForward: (image, head) pairs of a
  /// layer split across the pool's threads.
  func runSink(images: Range<Int>, batch: Int, threads: Int, capacity: Int) throws -> AttentionStatistics {
    let pool = ThreadPool(threads: threads)
    let sink = AttentionObserverSink(statistics: try smallStatistics(), images: capacity, pool: pool)
    let observer = sink.observer
    let s = sink.statistics
    var start = images.lowerBound
    while start < images.upperBound {
      let n = min(batch, images.upperBound - start)
      if sink.freeImages < n { try sink.flush() }
      for l in 0..<s.layers {
        let t = s.tokens[l], heads = s.heads[l]
        let maps = (0..<(n * heads)).map { map(start + $0 / heads, l, $0 % heads, tokens: t) }
        let pairs = n * heads
        pool.parallelFor(pool.threadCount) { w in
          for pair in (w * pairs / pool.threadCount)..<((w + 1) * pairs / pool.threadCount) {
            maps[pair].withUnsafeBufferPointer { observer(l, pair / heads, pair % heads, $0.baseAddress!, t, $0.baseAddress!, t) }
          }
        }
      }
      try sink.finishBatch(imageSHA256: (start..<(start + n)).map(imageHash))
      start += n
    }
    return try sink.finish()
  }

  @Test func concurrentObservationEqualsSequential() throws {
    let sequential = try statistics(images: 0..<10)
    for (threads, batch, capacity) in [(2, 3, 3), (2, 4, 8), (1, 2, 5), (2, 1, 1)] {
      let concurrent = try runSink(images: 0..<10, batch: batch, threads: threads, capacity: capacity)
      #expect(concurrent == sequential, "threads \(threads) batch \(batch) capacity \(capacity)")
      #expect(concurrent.encoded() == sequential.encoded())
    }
  }

  @Test func badBatchesRefused() throws {
    let sink = AttentionObserverSink(statistics: try smallStatistics(), images: 4)
    let s = sink.statistics
    func observeAll(images: Int, skip: (Int, Int, Int)? = nil, wrongTokens: Bool = false) {
      for i in 0..<images {
        for l in 0..<s.layers {
          for h in 0..<s.heads[l] where skip.map({ $0 != (i, l, h) }) ?? true {
            let t = s.tokens[l]
            map(i, l, h, tokens: t).withUnsafeBufferPointer {
              sink.observe(layer: l, image: i, head: h, map: $0.baseAddress!, tokens: wrongTokens && l == 1 ? t + 1 : t)
            }
          }
        }
      }
    }
    observeAll(images: 2, skip: (1, 1, 2))
    expectError(.shape) { try sink.finishBatch(imageSHA256: [imageHash(0), imageHash(1)]) }
    observeAll(images: 2, wrongTokens: true)
    expectError(.shape) { try sink.finishBatch(imageSHA256: [imageHash(0), imageHash(1)]) }
    observeAll(images: 2)
    expectError(.shape) { try sink.finishBatch(imageSHA256: [imageHash(0)]) }  // maps of 2 images
    observeAll(images: 2)
    expectError(.duplicateImage) { try sink.finishBatch(imageSHA256: [imageHash(0), imageHash(0)]) }
    #expect(sink.pendingImages == 0)
    observeAll(images: 2)
    try sink.finishBatch(imageSHA256: [imageHash(0), imageHash(1)])
    let folded = try sink.finish()
    #expect(folded == (try statistics(images: 0..<2)))
  }
}

/// Bitwise CRC-32C (Castagnoli), independent of EAMFormat's, for forging test files.
enum CRC32CReference {
  static func checksum(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      crc ^= UInt32(b)
      for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
  }
}

/// Fold speed at DINOv2-S/14 size (12 layers × 6 heads × 257²), through the sink as calibration
/// uses it. Opt-in, and meaningful only in release:
/// `EAMC_STATS_BENCH=64 swift test -c release --filter foldBenchmark` (the value: images).
@Suite struct StatisticsBenchmark {
  static let images = Int(ProcessInfo.processInfo.environment["EAMC_STATS_BENCH"] ?? "") ?? 0

  @Test(.enabled(if: images > 0)) func foldBenchmark() throws {
    let layers = 12, heads = 6, t = 257, capacity = 16
    let stats = try AttentionStatistics(layers: layers, heads: [Int](repeating: heads, count: layers),
                                        tokens: [Int](repeating: t, count: layers), model: "bench")
    let sink = AttentionObserverSink(statistics: stats, images: capacity)
    // Three variants of every map, reused across images.
    let maps = (0..<(3 * layers * heads)).map { softmaxMap(tokens: t, seed: UInt64($0)) }
    var times: [Double] = []
    var done = 0
    while done < Self.images {
      let n = min(capacity, Self.images - done)
      for k in 0..<n {
        for l in 0..<layers {
          for h in 0..<heads {
            maps[((done + k) % 3) * layers * heads + l * heads + h].withUnsafeBufferPointer {
              sink.observe(layer: l, image: k, head: h, map: $0.baseAddress!, tokens: t)
            }
          }
        }
      }
      // Thread CPU time: the fold runs on this thread, and other processes share the cores.
      let start = Self.cpuSeconds()
      try sink.finishBatch(imageSHA256: (done..<(done + n)).map(imageHash))
      try sink.flush()
      times.append((Self.cpuSeconds() - start) / Double(n))
      done += n
    }
    // The first fold also faults in the 380 MB of statistics.
    let steady = times.count > 1 ? Array(times.dropFirst()) : times
    print(String(format: "fold: %.2f ms CPU per DINOv2 image (%d images, %d per fold, first fold %.2f ms/image)",
                 steady.reduce(0, +) / Double(steady.count) * 1e3, Self.images, capacity, times[0] * 1e3))
    #expect(try sink.finish().imageCount == Self.images)
  }

  static func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}
