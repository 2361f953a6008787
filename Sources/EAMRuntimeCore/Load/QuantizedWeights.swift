import EAMFormat
import EAMKernels

// Loading int8 and int4 linear weights (FORMAT.md, "Quantized weights"): every part is checked
// against the layer's shape and its domain before a kernel sees it, since a kernel trusts its
// arguments (an inconsistent column sum or a negative scale would silently give wrong outputs).

extension WeightStore {
  /// The int8 weight `entry`, checked to be `[n][k]` with finite, non-negative column scales and
  /// column sums that equal the sums of its codes (which lie in [−127, 127]).
  func int8Weight(_ entry: Manifest.Weight, n: Int, k: Int) throws(RuntimeError) -> Int8Weight {
    let name = entry.name
    guard entry.activation == .unspecified || entry.activation == .dynamic || entry.activation == .static else {
      throw fail("weight '\(name)' asks for an activation quantization this runtime does not know")
    }
    let lo = entry.activationMin, hi = entry.activationMax
    if entry.activation == .static {
      guard lo.isFinite, hi.isFinite, lo <= 0, hi >= 0, (hi - lo).isFinite else {
        throw fail("int8 weight '\(name)' has static activation range [\(lo), \(hi)] (finite, min ≤ 0 ≤ max)")
      }
    }
    guard n >= 1, k >= 1, n <= Int(Int32.max) - Kernels.panel, k <= Kernels.int8MaxK else {
      throw fail("int8 weight '\(name)' is [\(n)][\(k)]; at most \(Kernels.int8MaxK) deep")
    }
    let columns = (n + Kernels.panel - 1) / Kernels.panel * Kernels.panel
    let kp = Kernels.int8PaddedK(k)
    let codes = try quantSection(name, dtype: .i8, shape: [n, k], layout: .int8Panels, alignment: 64)
      .assumingMemoryBound(to: Int8.self)
    let scales = try quantSection(entry.scaleSection, of: name, dtype: .f32, shape: [columns], alignment: 4)
      .assumingMemoryBound(to: Float.self)
    let sums = try quantSection(entry.sumsSection, of: name, dtype: .i32, shape: [columns], alignment: 4)
      .assumingMemoryBound(to: Int32.self)
    for c in 0..<columns where !(scales[c].isFinite && scales[c] >= 0) {
      throw fail("int8 weight '\(name)' has a scale that is not finite or negative (column \(c))")
    }
    // Column sums from the codes: panel p, group of 4 k, column j at bytes 4j..4j+3.
    var sum = [Int](repeating: 0, count: columns)
    for p in 0..<(columns / Kernels.panel) {
      let panel = codes + p * (kp / 4) * 64
      for g in 0..<(kp / 4) {
        for j in 0..<Kernels.panel {
          for b in 0..<4 {
            let q = panel[g * 64 + 4 * j + b]
            guard q != Int8.min else { throw fail("int8 weight '\(name)' has code -128; codes lie in [-127, 127]") }
            sum[p * Kernels.panel + j] += Int(q)
          }
        }
      }
    }
    for c in 0..<columns where sum[c] != Int(sums[c]) {
      throw fail("int8 weight '\(name)': column \(c)'s sum is \(sums[c]), its codes sum to \(sum[c])")
    }
    return Int8Weight(codes: codes, columnScales: scales, columnSums: sums, scratch: activationCodes,
                      range: entry.activation == .static ? (lo, hi) : nil)
  }

  /// The int4 weight `entry`, checked to be `[n][k]` with groups of `group_size` ≥ 1 and
  /// finite, non-negative binary16 scales.
  func int4Weight(_ entry: Manifest.Weight, n: Int, k: Int) throws(RuntimeError) -> Int4Weight {
    let name = entry.name, group = entry.groupSize
    guard n >= 1, k >= 1, n <= Int(Int32.max) - Kernels.panel, k <= Int(Int32.max) else {
      throw fail("int4 weight '\(name)' is [\(n)][\(k)]")
    }
    guard group >= 1, group <= k else { throw fail("int4 weight '\(name)' has group size \(group); 1 to \(k) expected") }
    let panels = (n + Kernels.panel - 1) / Kernels.panel, groups = (k + group - 1) / group
    let codes = try quantSection(name, dtype: .u8, shape: [n, k], layout: .int4Panels, alignment: 64)
      .assumingMemoryBound(to: UInt8.self)
    let scales = try quantSection(entry.scaleSection, of: name, dtype: .f16, shape: [panels, groups, Kernels.panel],
                                  alignment: 2).assumingMemoryBound(to: UInt16.self)
    for i in 0..<(panels * groups * Kernels.panel) where scales[i] & 0x8000 != 0 || scales[i] & 0x7C00 == 0x7C00 {
      throw fail("int4 weight '\(name)' has scale bits \(scales[i]) at \(i); scales are finite and not negative")
    }
    return Int4Weight(codes: codes, scales: scales, group: group)
  }

  /// The bytes of a part of quantized weight `weight` (its section `name`), checked to be
  /// `dtype` `shape` in `layout`: in place from the mapped file, else a copy at `alignment`.
  private func quantSection(_ name: String, of weight: String? = nil, dtype: DType, shape: [Int], layout: Layout = .rowMajor,
                            alignment: Int) throws(RuntimeError) -> UnsafeRawPointer {
    guard !name.isEmpty else { throw fail("quantized weight '\(weight ?? name)' names no section for a part") }
    let s = try section(name)
    guard s.dtype == dtype, s.shape == shape, s.layout == layout else {
      throw fail("section '\(name)' is \(s.dtype.name) \(Shape.text(s.shape)) (\(s.layout.name)); "
        + "\(dtype.name) \(Shape.text(shape)) (\(layout.name)) expected")
    }
    let stored: UnsafeRawBufferPointer
    do throws(FormatError) { stored = try artifact.storedBytes(s, verify: verify) } catch { throw RuntimeError(error) }
    if s.compression == .none, let base = stored.baseAddress, Int(bitPattern: base) % alignment == 0 {
      return base
    }
    let raw: [UInt8]
    do throws(FormatError) { raw = try artifact.rawBytes(s, verify: false) } catch { throw RuntimeError(error) }
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(raw.count, 1), alignment: 64)
    raw.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: raw.count) }
    keep(copy, bytes: raw.count)
    return UnsafeRawPointer(copy)
  }
}
