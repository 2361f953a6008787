/// Which rows of a block's qkv projection an artifact stores, and where each head's Q, K and V
/// then lie in the projection's output. A head whose attention map is frozen whole needs no Q and
/// K (its map is a constant): the compiler drops those rows and the runtime reads the rest by
/// this one rule. Rows are in q, k, v order, heads in order within each.
public struct QKVLayout: Equatable, Sendable {
  /// Output columns of the (compacted) projection.
  public let width: Int
  /// Per head: the first column of its Q (and K), nil for a whole-frozen head; of its V.
  public let q: [Int?]
  public let k: [Int?]
  public let v: [Int]
  /// The rows of the full `[3·dim][dim]` qkv weight kept, in stored order.
  public let rows: [Int]

  public init(dim: Int, heads: Int, wholeFrozen: Set<Int>) {
    let hd = dim / heads
    var offset = 0
    var q: [Int?] = [], k: [Int?] = [], v: [Int] = [], rows: [Int] = []
    for part in 0..<3 {
      for h in 0..<heads {
        let kept = part == 2 || !wholeFrozen.contains(h)
        let column: Int? = kept ? offset : nil
        switch part {
        case 0: q.append(column)
        case 1: k.append(column)
        default: v.append(offset)
        }
        if kept {
          for i in 0..<hd { rows.append(part * dim + h * hd + i) }
          offset += hd
        }
      }
    }
    width = offset
    self.q = q
    self.k = k
    self.v = v
    self.rows = rows
  }

  /// The layout of `block`: its whole-frozen and hallucinated heads (no Q, K) from the manifest.
  public init(_ block: Manifest.Block) {
    var whole = Set<Int>()
    for f in block.frozen where f.wholeHead { whole.insert(f.head) }
    for h in block.hallucinated { whole.insert(h.head) }
    self.init(dim: block.dim, heads: block.heads, wholeFrozen: whole)
  }

  /// Whether every row is stored (no head is frozen whole).
  public var keepsAllRows: Bool { !q.contains { $0 == nil } }
}
