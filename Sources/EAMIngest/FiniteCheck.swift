/// Weights must be finite: a NaN or ±∞ in a weight (or an f64 beyond float32's range) makes every
/// output NaN, so such a file is refused, naming the first tensor and its counts, unless the
/// caller allows it (`ReadOptions.allowNonFinite`), which turns the refusal into a note.
enum FiniteCheck {
  /// Whether any value is NaN or ±∞, without a branch per value: an exponent of all ones
  /// (0x7F8) plus one carries into the sign bit, any other exponent does not.
  static func anyNonFinite(_ values: [Float]) -> Bool {
    var flag: UInt32 = 0
    values.withUnsafeBufferPointer { v in
      v.withMemoryRebound(to: UInt32.self) { bits in
        guard let p = bits.baseAddress else { return }
        var i = 0
        while i < bits.count {
          flag |= (p[i] & 0x7F80_0000) &+ 0x0080_0000
          i &+= 1
        }
      }
    }
    return flag & 0x8000_0000 != 0
  }

  /// NaN and ±∞ counts of `values`.
  static func count(_ values: [Float]) -> (nan: Int, infinite: Int) {
    var nan = 0, infinite = 0
    values.withUnsafeBufferPointer { v in
      v.withMemoryRebound(to: UInt32.self) { bits in
        for b in bits where b & 0x7F80_0000 == 0x7F80_0000 {
          if b & 0x007F_FFFF != 0 { nan += 1 } else { infinite += 1 }
        }
      }
    }
    return (nan, infinite)
  }

  static func apply(to checkpoint: inout Checkpoint, allow: Bool) throws(IngestError) {
    var bad: [String] = []
    for name in checkpoint.names {
      guard let t = checkpoint.tensors[name], anyNonFinite(t.values) else { continue }
      let (nan, infinite) = count(t.values)
      if nan + infinite > 0 {
        bad.append("tensor \(quoted(name)) has \(nan) NaN and \(infinite) infinite values of \(t.count)")
      }
    }
    guard let first = bad.first else { return }
    if allow {
      checkpoint.notes += bad.map { $0 + " (read anyway: allowNonFinite)" }
      return
    }
    let others = bad.count > 1 ? " (and \(bad.count - 1) more tensors have some)" : ""
    throw IngestError("\(first)\(others): a model with non-finite weights is broken (allowNonFinite reads it anyway)")
  }
}
