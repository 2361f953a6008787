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

/// A sub-path of the int8 GEMM (`eam_quant.h`). Every path takes 8-bit activation codes
/// (`codeMax` 255) and gives the same bits for the same codes.
public enum Int8Path: Int32, CaseIterable, Sendable {
  case portable = 0
  case avx2 = 1
  case avxVNNI = 2
  case vnni512 = 3
  /// aarch64 `sdot` (dot-product extension, detected on Linux).
  case sdot = 4
  /// x86-64 AMX-INT8 tiles (`tdpbusd`; Linux), VNNI-512 for what its blocks do not cover.
  case amx = 5

  /// "portable", "avx2", "avxvnni", "vnni512", "sdot" or "amx" (the values `EAM_INT8` takes).
  public var name: String { String(cString: eam_int8_path_name(rawValue)) }

  /// Whether this CPU can run the path.
  public var isSupported: Bool { eam_int8_supports(rawValue) != 0 }

  /// The largest activation code the path accepts (quantize with it).
  public var codeMax: Int { Int(eam_int8_code_max(rawValue)) }

  /// The path in use on this thread: a thread or process override, else the best the CPU
  /// supports within the active kernel variant.
  public static var active: Int8Path { Int8Path(rawValue: eam_int8_path()) ?? .portable }

  /// The fastest path this CPU supports among those `variant` allows.
  public static func best(for variant: KernelVariant) -> Int8Path {
    Int8Path(rawValue: eam_int8_best_path(variant.rawValue)) ?? .portable
  }

  /// Makes this path the active one process-wide; false if the CPU cannot run it.
  @discardableResult
  public func use() -> Bool { eam_int8_set_path(rawValue) == 0 }

  /// Back to the default choice (the best path for the active variant).
  public static func useDefault() { eam_int8_set_path(-1) }

  /// Runs `body` with this path active on the calling thread only.
  public func withThreadPath<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    precondition(eam_int8_set_thread_path(rawValue) == 0, "int8 path \(name) is not supported on this CPU")
    defer { eam_int8_set_thread_path(-1) }
    return try body()
  }
}

extension Kernels {
  /// The largest depth the int8 GEMM accepts (its int32 accumulation is exact up to it).
  public static let int8MaxK = Int(EAM_INT8_MAX_K)

  /// k rounded up to 4: the minimum row length of activation codes and the packed depth.
  @inlinable public static func int8PaddedK(_ k: Int) -> Int { (k + 3) & ~3 }

  /// Quantizes `rows` rows of `x` to u8 codes `0...codeMax` with a scale and a zero point per row
  /// (`codes[r][0..<int8PaddedK(k)]`, codes past k zero). Same bits on every variant.
  @inlinable
  public static func quantizeRows(x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int, codeMax: Int,
                                  codes: UnsafeMutablePointer<UInt8>, ldq: Int, scales: UnsafeMutablePointer<Float>,
                                  zeros: UnsafeMutablePointer<Int32>) {
    eam_quantize_rows_u8(x, Int32(ldx), Int32(rows), Int32(k), Int32(codeMax), codes, Int32(ldq), scales, zeros)
  }

  /// `quantizeRows` with one range for every row (`range`: lo ≤ 0 ≤ hi, static activation
  /// quantization); values outside it clamp. Same bits on every variant.
  @inlinable
  public static func quantizeRows(x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int, codeMax: Int, range: (lo: Float, hi: Float),
                                  codes: UnsafeMutablePointer<UInt8>, ldq: Int, scales: UnsafeMutablePointer<Float>,
                                  zeros: UnsafeMutablePointer<Int32>) {
    eam_quantize_rows_u8_range(x, Int32(ldx), Int32(rows), Int32(k), Int32(codeMax), range.lo, range.hi, codes, Int32(ldq),
                               scales, zeros)
  }

  /// `y[0..<m, columns] = dequantized(codes · packed int8 weight) (+ epilogue)` on `path` (nil:
  /// the active path); codes quantized with at most `path.codeMax`. False (nothing written) if
  /// the path is not supported or k > `int8MaxK`.
  @inlinable @discardableResult
  public static func linearInt8(path: Int8Path? = nil, m: Int, n: Int, k: Int, codes: UnsafePointer<UInt8>, ldq: Int,
                                rowScales: UnsafePointer<Float>, rowZeros: UnsafePointer<Int32>,
                                packedWeight: UnsafePointer<Int8>, columnScales: UnsafePointer<Float>,
                                columnSums: UnsafePointer<Int32>, bias: UnsafePointer<Float>?,
                                y: UnsafeMutablePointer<Float>, ldy: Int, columns: Range<Int>, epilogue: Epilogue) -> Bool {
    eam_gemm_s8(path?.rawValue ?? -1, Int32(m), Int32(n), Int32(k), codes, Int32(ldq), rowScales, rowZeros, packedWeight,
                columnScales, columnSums, bias, y, Int32(ldy), Int32(columns.lowerBound), Int32(columns.upperBound),
                epilogue.rawValue) == 0
  }
}

extension WeightPacking {
  /// Symmetric per-column int8 (`eam_quant.h`): the packed codes (`eam_pack_size_s8` bytes), and
  /// per column (n rounded up to the panel, padding 0) the scale and the sum of the codes.
  /// Throws for a weight that is not finite; k must not exceed `Kernels.int8MaxK`.
  public static func packInt8(weight: [Float], n: Int, k: Int) throws(WeightPackingError)
    -> (codes: [Int8], scales: [Float], columnSums: [Int32]) {
    checkShape(count: weight.count, n: n, k: k)
    precondition(k <= Kernels.int8MaxK, "int8 weights deeper than \(Kernels.int8MaxK)")
    var codes = [Int8](repeating: 0, count: eam_pack_size_s8(Int32(n), Int32(k)))
    let columns = eam_int8_columns(Int32(n))
    var scales = [Float](repeating: 0, count: columns), sums = [Int32](repeating: 0, count: columns)
    let status = weight.withUnsafeBufferPointer { w in
      codes.withUnsafeMutableBufferPointer { c in
        scales.withUnsafeMutableBufferPointer { s in
          sums.withUnsafeMutableBufferPointer {
            eam_pack_weight_s8(w.baseAddress!, Int32(k), Int32(n), Int32(k), c.baseAddress!, s.baseAddress!, $0.baseAddress!)
          }
        }
      }
    }
    if status != 0 { throw firstBad(weight, k: k, format: "int8") { $0.isFinite } }
    return (codes, scales, sums)
  }
}

extension Kernels {
  /// The default int4 group: k per binary16 scale.
  public static let int4DefaultGroup = 32

  /// `linear` with int4 weights (`WeightPacking.packInt4`): bit-identical to `linear` of the
  /// same variant on the dequantized weight (`WeightPacking.unpackInt4`). False if group < 1.
  @inlinable @discardableResult
  public static func linearInt4(m: Int, n: Int, k: Int, group: Int, x: UnsafePointer<Float>, ldx: Int,
                                codes: UnsafePointer<UInt8>, scales: UnsafePointer<UInt16>, bias: UnsafePointer<Float>?,
                                y: UnsafeMutablePointer<Float>, ldy: Int, columns: Range<Int>, epilogue: Epilogue) -> Bool {
    eam_gemm_int4(Int32(m), Int32(n), Int32(k), Int32(group), x, Int32(ldx), codes, scales, bias, y, Int32(ldy),
                  Int32(columns.lowerBound), Int32(columns.upperBound), epilogue.rawValue) == 0
  }
}

extension WeightPacking {
  /// Symmetric group-wise int4 (`eam_quant.h`): the nibbles and the binary16 scales per column
  /// and group of `group` k. Throws for a weight that is not finite or whose scale overflows
  /// binary16.
  public static func packInt4(weight: [Float], n: Int, k: Int, group: Int = Kernels.int4DefaultGroup)
    throws(WeightPackingError) -> (codes: [UInt8], scales: [UInt16]) {
    checkShape(count: weight.count, n: n, k: k)
    precondition(group >= 1 && group <= Int(Int32.max), "int4 group \(group)")
    var codes = [UInt8](repeating: 0, count: eam_pack_size_int4(Int32(n), Int32(k)))
    var scales = [UInt16](repeating: 0, count: eam_int4_scale_count(Int32(n), Int32(k), Int32(group)))
    let status = weight.withUnsafeBufferPointer { w in
      codes.withUnsafeMutableBufferPointer { c in
        scales.withUnsafeMutableBufferPointer {
          eam_pack_weight_int4(w.baseAddress!, Int32(k), Int32(n), Int32(k), Int32(group), c.baseAddress!, $0.baseAddress!)
        }
      }
    }
    if status != 0 {
      // Not finite, or the largest magnitude of its group over 7 does not fit binary16.
      throw firstBad(weight, k: k, format: "int4 with binary16 scales") { $0.isFinite && eam_float_to_half(abs($0) / 7) & 0x7C00 != 0x7C00 }
    }
    return (codes, scales)
  }

  /// `packInt4` with each group's binary16 scale given (`[n][groups]` row-major, finite, ≥ 0), for
  /// rounding that chose them itself; codes `clamp(rint(W / s), −7, 7)`. Throws for a weight that
  /// is not finite.
  public static func packInt4(weight: [Float], n: Int, k: Int, group: Int, scales given: [UInt16])
    throws(WeightPackingError) -> (codes: [UInt8], scales: [UInt16]) {
    checkShape(count: weight.count, n: n, k: k)
    precondition(group >= 1 && group <= Int(Int32.max), "int4 group \(group)")
    precondition(given.count == n * ((k + group - 1) / group) && given.allSatisfy { $0 & 0x7C00 != 0x7C00 && $0 & 0x8000 == 0 },
                 "int4 scales for [\(n)][\(k)]")
    var codes = [UInt8](repeating: 0, count: eam_pack_size_int4(Int32(n), Int32(k)))
    var scales = [UInt16](repeating: 0, count: eam_int4_scale_count(Int32(n), Int32(k), Int32(group)))
    let status = weight.withUnsafeBufferPointer { w in
      codes.withUnsafeMutableBufferPointer { c in
        scales.withUnsafeMutableBufferPointer {
          eam_pack_weight_int4_scaled(w.baseAddress!, Int32(k), Int32(n), Int32(k), Int32(group), given,
                                      c.baseAddress!, $0.baseAddress!)
        }
      }
    }
    if status != 0 { throw firstBad(weight, k: k, format: "int4") { $0.isFinite } }
    return (codes, scales)
  }

  /// The dequantized `[n][k]` weight the int4 GEMM computes with.
  public static func unpackInt4(codes: [UInt8], scales: [UInt16], n: Int, k: Int, group: Int = Kernels.int4DefaultGroup) -> [Float] {
    precondition(n > 0 && k > 0 && group >= 1 && codes.count == eam_pack_size_int4(Int32(n), Int32(k))
                 && scales.count == eam_int4_scale_count(Int32(n), Int32(k), Int32(group)), "int4 weight [\(n)][\(k)]")
    var w = [Float](repeating: 0, count: n * k)
    w.withUnsafeMutableBufferPointer { eam_unpack_weight_int4(codes, scales, Int32(n), Int32(k), Int32(group), $0.baseAddress!, Int32(k)) }
    return w
  }
}
