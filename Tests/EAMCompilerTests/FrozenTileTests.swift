import Foundation
import Testing
@testable import EAMCompiler
import EAMFormat

/// `--granularity tile|column`: EAM freezes whole tiles of the fused kernel (64 queries × 48
/// keys, or 64 queries × 1 key), ranked by the mean key of their entries, within the sparsity
/// budget.
@Suite struct FrozenTiles {
  static let tile = FrozenGranularity.tile.shape!

  /// The paper's criterion (so the ranking follows the statistics below alone).
  static func options(_ granularity: FrozenGranularity, allocation: BudgetAllocation = .global,
                      sparsity: Double) -> EAMOptions {
    var o = EAMOptions()
    o.criterion = .entropy
    o.granularity = granularity
    o.allocation = allocation
    o.sparsity = sparsity
    return o
  }

  /// Statistics of a 100-token map (a 2 × 3 grid of tiles: 64 + 36 queries, 48 + 48 + 4 keys)
  /// for every head of the small DINOv2 fixture's blocks: entropy rises with the tile's index
  /// in the grid, then with the head and the block, so the ranking is known; one entry of the
  /// lowest tile is high (a tile ranks by its mean, not by single entries).
  static func statistics(blocks: Int, heads: Int) -> [[HeadEntryStatistics]?] {
    let t = 100
    return (0..<blocks).map { b in
      (0..<heads).map { h in
        var entropy = [Float](repeating: 0, count: t * t)
        for r in 0..<t {
          for c in 0..<t { entropy[r * t + c] = Float((r / 64) * 3 + c / 48) + Float(h) * 0.01 + Float(b) * 0.1 }
        }
        entropy[0] = 50
        let mean = [Float](repeating: 0.01, count: t * t)
        return HeadEntryStatistics(tokens: t, entropy: entropy, mean: mean, median: mean,
                                   std: [Float](repeating: 0.001, count: t * t))
      }
    }
  }

  static func frozenEntries(_ m: ModelDescription, block: Int, head: Int) -> Set<Int> {
    guard let map = m.frozenMaps.first(where: { $0.block == block && $0.head == head }) else { return [] }
    return Set(map.mask.indices.filter { map.mask[$0] })
  }

  @Test func tilesAreFrozenWholeInRankOrderWithinTheBudget() throws {
    let model = try OutputSensitivityTests.description()
    let blocks = model.blocks.count, heads = model.blocks[0].heads
    let stats = Self.statistics(blocks: blocks, heads: heads)
    // Per head, in rank order: tiles 0 (64 × 48 = 3072 entries; mean entropy 0.016 with the one
    // high entry), 1 (3072), 2 (64 × 4 = 256), 3 (36 × 48 = 1728). 40% = 4000 entries: tile 0,
    // then tile 1 would pass the budget, so nothing more.
    var o = Self.options(.tile, allocation: .perHead, sparsity: 0.4)
    let m = EAMPass.apply(model, statistics: stats, options: o)
    let tile0 = Set(EAMPass.tileEntries(0, tokens: 100, shape: Self.tile))
    #expect(tile0.count == 64 * 48 && tile0.contains(0) && tile0.contains(63 * 100 + 47) && !tile0.contains(48))
    for b in 0..<blocks {
      for h in 0..<heads { #expect(Self.frozenEntries(m, block: b, head: h) == tile0, "block \(b) head \(h)") }
    }
    // 70% = 7000: tiles 0, 1 and 2 (6400); tile 3 would pass it.
    o.sparsity = 0.7
    let more = EAMPass.apply(model, statistics: stats, options: o)
    let expected = tile0.union(EAMPass.tileEntries(1, tokens: 100, shape: Self.tile)).union(EAMPass.tileEntries(2, tokens: 100, shape: Self.tile))
    #expect(Self.frozenEntries(more, block: 0, head: 0) == expected)
    #expect(expected.count == 6400)
    // The edge tiles: 36 queries × 4 keys at the bottom right.
    let last = EAMPass.tileEntries(5, tokens: 100, shape: Self.tile)
    #expect(last.count == 36 * 4 && last.first == 64 * 100 + 96 && last.last == 99 * 100 + 99)
  }

  /// One global ranking: the lowest tiles of the whole model, whole, never above the budget.
  @Test func aGlobalBudgetTakesTheLowestTilesOfTheModel() throws {
    let model = try OutputSensitivityTests.description()
    let blocks = model.blocks.count, heads = model.blocks[0].heads
    let stats = Self.statistics(blocks: blocks, heads: heads)
    let o = Self.options(.tile, sparsity: 0.1)
    let m = EAMPass.apply(model, statistics: stats, options: o)
    let total = blocks * heads * 100 * 100
    let frozen = m.frozenMaps.reduce(0) { $0 + $1.mask.filter { $0 }.count }
    #expect(frozen <= Int((Double(total) * 0.1).rounded()) && frozen > 0)
    // Every frozen map is a union of whole tiles.
    for map in m.frozenMaps {
      let set = Self.frozenEntries(m, block: map.block, head: map.head)
      for tile in 0..<6 {
        let entries = Set(EAMPass.tileEntries(tile, tokens: 100, shape: Self.tile))
        #expect(entries.isSubset(of: set) || entries.isDisjoint(with: set), "block \(map.block) head \(map.head) tile \(tile)")
      }
    }
    // Tile 0 of block 0 (the lowest everywhere) is among them; the same options give the same maps.
    #expect(Self.frozenEntries(m, block: 0, head: 0).isSuperset(of: EAMPass.tileEntries(0, tokens: 100, shape: Self.tile)))
    #expect(EAMPass.apply(model, statistics: stats, options: o).frozenMaps == m.frozenMaps)
  }

  /// Columns: one key's entries for 64 queries (36 in the last query tile of 100 tokens), ranked
  /// by their mean like tiles. Entropy rises with the key, and by 200 in the second query tile;
  /// the one high entry (query 0, key 0) leaves column 0 the lowest (mean 50/64).
  static func columnStatistics(blocks: Int, heads: Int) -> [[HeadEntryStatistics]?] {
    let t = 100
    return (0..<blocks).map { _ in
      (0..<heads).map { _ in
        var entropy = [Float](repeating: 0, count: t * t)
        for r in 0..<t { for c in 0..<t { entropy[r * t + c] = Float(c) + (r >= 64 ? 200 : 0) } }
        entropy[0] = 50
        let mean = [Float](repeating: 0.01, count: t * t)
        return HeadEntryStatistics(tokens: t, entropy: entropy, mean: mean, median: mean,
                                   std: [Float](repeating: 0.001, count: t * t))
      }
    }
  }

  @Test func columnsAreFrozenWholeInRankOrderWithinTheBudget() throws {
    let model = try OutputSensitivityTests.description()
    let blocks = model.blocks.count, heads = model.blocks[0].heads, t = 100
    let stats = Self.columnStatistics(blocks: blocks, heads: heads)
    let column = try #require(FrozenGranularity.column.shape)
    #expect(column.queries == 64 && column.keys == 1)
    let second = EAMPass.tileEntries(100, tokens: t, shape: column)  // query tile 1, key 0
    #expect(second.count == 36 && second.first == 64 * t && second.last == 99 * t)
    // 10% = 1000 entries a head: 15 columns of 64 (keys 0…14 of the first query tile; 960),
    // a 16th would pass it.
    let o = Self.options(.column, allocation: .perHead, sparsity: 0.1)
    let m = EAMPass.apply(model, statistics: stats, options: o)
    var expected = Set<Int>()
    for r in 0..<64 { for c in 0..<15 { expected.insert(r * t + c) } }
    for b in 0..<blocks {
      for h in 0..<heads { #expect(Self.frozenEntries(m, block: b, head: h) == expected, "block \(b) head \(h)") }
    }
    #expect(EAMPass.apply(model, statistics: stats, options: o).frozenMaps == m.frozenMaps)
  }

  /// `--frozen-value zero` freezes the same entries as the median, every code 0 with scale 0
  /// (what lets the fused kernel skip a wholly frozen key's P·V).
  @Test(arguments: [FrozenGranularity.entry, .column])
  func zeroFrozenValueKeepsTheSelection(_ granularity: FrozenGranularity) throws {
    let model = try OutputSensitivityTests.description()
    let stats = Self.columnStatistics(blocks: model.blocks.count, heads: model.blocks[0].heads)
    var o = Self.options(granularity, sparsity: 0.1)
    let median = EAMPass.apply(model, statistics: stats, options: o)
    o.frozenValue = .zero
    let zero = EAMPass.apply(model, statistics: stats, options: o)
    #expect(!zero.frozenMaps.isEmpty && zero.frozenMaps.count == median.frozenMaps.count)
    for (a, b) in zip(median.frozenMaps, zero.frozenMaps) {
      #expect(a.block == b.block && a.head == b.head && a.mask == b.mask)
      #expect(a.codes.contains { $0 != 0 } && a.scale > 0)
      #expect(b.codes.allSatisfy { $0 == 0 } && b.scale == 0)
    }
  }

  /// Entry granularity is unchanged by the tile code: the budget exactly, entries wherever they rank.
  @Test func entryGranularityFreezesTheExactBudget() throws {
    let model = try OutputSensitivityTests.description()
    let stats = Self.statistics(blocks: model.blocks.count, heads: model.blocks[0].heads)
    let o = Self.options(.entry, allocation: .perHead, sparsity: 0.4)
    let m = EAMPass.apply(model, statistics: stats, options: o)
    let set = Self.frozenEntries(m, block: 0, head: 0)
    #expect(set.count == 4000 && !set.contains(0))  // the one high entry of tile 0 stays free
  }
}
