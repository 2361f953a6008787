import CEAMKernels

/// Why a weight cannot be packed in a compressed form: the element (row `n`, column `k` of the
/// `[n][k]` weight) is not finite, or too large for binary16.
public struct WeightPackingError: Error, CustomStringConvertible, Sendable {
  public let n: Int, k: Int, value: Float, format: String
  public var description: String { "weight [\(n)][\(k)] = \(value) cannot be stored as \(format)" }
}

extension Kernels {
  /// `linear` with binary16 panels (`WeightPacking.packF16`): bit-identical to `linear` of the
  /// same variant on the weights widened to float.
  @inlinable
  public static func linearF16(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, packedWeight: UnsafePointer<UInt16>,
                               bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, ldy: Int,
                               columns: Range<Int>, epilogue: Epilogue) {
    eam_gemm_packed_f16(Int32(m), Int32(n), Int32(k), x, Int32(ldx), packedWeight, bias, y, Int32(ldy),
                        Int32(columns.lowerBound), Int32(columns.upperBound), epilogue.rawValue)
  }

  /// binary16 → float (exact) and float → binary16 (nearest, ties to even), as the kernels do.
  @inlinable public static func halfToFloat(_ h: UInt16) -> Float { eam_half_to_float(h) }
  @inlinable public static func floatToHalf(_ f: Float) -> UInt16 { eam_float_to_half(f) }
}

/// Packing of `[n][k]` row-major weights (PyTorch Linear layout) into the compressed panel
/// layouts of `eam_quant.h`, for the compiler side (allocates; never on a hot path).
public enum WeightPacking {
  /// Checks a weight's shape against the kernels' `Int32` arguments and the element count.
  static func checkShape(count: Int, n: Int, k: Int) {
    precondition(n > 0 && k > 0 && n <= Int(Int32.max) - Kernels.panel && k <= Int(Int32.max), "weight shape [\(n)][\(k)]")
    let (elements, overflow) = n.multipliedReportingOverflow(by: k)
    precondition(!overflow && elements == count, "weight of \(count) elements is not [\(n)][\(k)]")
  }

  /// The first element of `weight` that `ok` rejects, as an error.
  static func firstBad(_ weight: [Float], k: Int, format: String, ok: (Float) -> Bool) -> WeightPackingError {
    let i = weight.firstIndex { !ok($0) } ?? 0
    return WeightPackingError(n: i / k, k: i % k, value: weight[i], format: format)
  }

  /// binary16 panels (`Kernels.packedCount(n:k:)` elements). Throws for a weight that is not
  /// finite or rounds to infinity.
  public static func packF16(weight: [Float], n: Int, k: Int) throws(WeightPackingError) -> [UInt16] {
    checkShape(count: weight.count, n: n, k: k)
    var packed = [UInt16](repeating: 0, count: eam_pack_size_f16(Int32(n), Int32(k)))
    let status = weight.withUnsafeBufferPointer { w in
      packed.withUnsafeMutableBufferPointer { eam_pack_weight_f16(w.baseAddress!, Int32(k), Int32(n), Int32(k), $0.baseAddress!) }
    }
    if status != 0 {
      throw firstBad(weight, k: k, format: "binary16") { $0.isFinite && eam_float_to_half($0) & 0x7C00 != 0x7C00 }
    }
    return packed
  }
}
