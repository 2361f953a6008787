import CEAMKernels

/// A kernel implementation: all kernels of one variant are used together.
public enum KernelVariant: Int32, CaseIterable, Sendable {
  case scalar = 0
  case avx2 = 1
  case avx512 = 2
  /// aarch64 Advanced SIMD (always present there); kernels without a NEON version run `scalar`'s.
  case neon = 3

  /// "scalar", "avx2", "avx512" or "neon" (the values `EAM_KERNELS` takes).
  public var name: String { String(cString: eam_kernels_variant_name(rawValue)) }

  /// Whether this CPU can run the variant.
  public var isSupported: Bool { eam_kernels_supports(rawValue) != 0 }

  /// The variant in use: the best this CPU supports, unless `EAM_KERNELS` or `use(_:)` chose one.
  public static var active: KernelVariant { KernelVariant(rawValue: eam_kernels_variant()) ?? .scalar }

  /// The best variant this CPU supports.
  public static var best: KernelVariant { KernelVariant(rawValue: eam_kernels_best_variant()) ?? .scalar }

  /// Makes this variant the active one; false if the CPU cannot run it.
  @discardableResult
  public func use() -> Bool { eam_kernels_set_variant(rawValue) == 0 }

  /// Runs `body` with this variant active on the calling thread only (other threads keep theirs).
  public func withThreadVariant<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    precondition(eam_kernels_set_thread_variant(rawValue) == 0, "\(name) kernels are not supported on this CPU")
    defer { eam_kernels_set_thread_variant(-1) }
    return try body()
  }
}

/// What a packed GEMM does after the dot products.
public struct Epilogue: OptionSet, Sendable {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }
  /// Add the bias of the column.
  public static let bias = Epilogue(rawValue: Int32(EAM_EPI_BIAS))
  /// Then exact GELU.
  public static let gelu = Epilogue(rawValue: Int32(EAM_EPI_GELU))
  /// Then add into the output (residual connections).
  public static let accumulate = Epilogue(rawValue: Int32(EAM_EPI_ACCUMULATE))
  // The combinations the forward passes use, as constants: an array literal of options would
  // allocate on every call in Embedded Swift.
  /// Bias, then GELU (MLP fc1).
  public static let biasGELU = Epilogue(rawValue: Int32(EAM_EPI_BIAS | EAM_EPI_GELU))
  /// Bias, then into the residual stream (attention projection, MLP fc2).
  public static let biasAccumulate = Epilogue(rawValue: Int32(EAM_EPI_BIAS | EAM_EPI_ACCUMULATE))
}

/// The runtime's one interface to the C kernels. Pointers are the caller's (activation arena,
/// weights in place in the mapped file); nothing here allocates. Shapes are row-major with
/// leading dimensions in elements, as in `eam_kernels.h`.
public enum Kernels {
  /// Columns per packed panel.
  public static let panel = Int(EAM_PANEL)

  /// `y[0..<m, n0..<n1] = x · Wᵀ (+ epilogue)` with W panel-packed (`[n][k]` logical).
  @inlinable
  public static func linear(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, packedWeight: UnsafePointer<Float>,
                            bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, ldy: Int,
                            columns: Range<Int>, epilogue: Epilogue) {
    eam_gemm_packed(Int32(m), Int32(n), Int32(k), x, Int32(ldx), packedWeight, bias, y, Int32(ldy),
                    Int32(columns.lowerBound), Int32(columns.upperBound), epilogue.rawValue)
  }

  /// `c = alpha · a · bᵀ` (attention scores).
  @inlinable
  public static func gemmNT(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
    eam_gemm_nt(Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), c, Int32(ldc))
  }

  /// `c (+)= a · b` (attention output).
  @inlinable
  public static func gemmNN(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
    eam_gemm_nn(Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), c, Int32(ldc), accumulate ? 1 : 0)
  }

  /// Row-wise LayerNorm; `y` may equal `x`.
  @inlinable
  public static func layerNorm(x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int,
                               dim: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
    eam_layernorm(x, Int32(ldx), y, Int32(ldy), Int32(rows), Int32(dim), gamma, beta, eps)
  }

  /// Row-wise softmax in place.
  @inlinable
  public static func softmax(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, cols: Int) {
    eam_softmax_rows(x, Int32(ld), Int32(rows), Int32(cols))
  }

  /// 16-bit words per row of a frozen-entry bitmask of `cols` entries.
  public static func frozenMaskWords(cols: Int) -> Int { (cols + 15) / 16 }

  /// Frozen entries of a stored T×T mask (bit i, least significant first, for entry i = r·T + j).
  public static func frozenMapCount(tokens: Int, mask: UnsafePointer<UInt8>) -> Int {
    Int(eam_frozen_map_count(Int32(tokens), mask))
  }

  /// Decodes a stored frozen map (`eam_frozen.h`): per row its mask words (`rowLD` ≥
  /// `frozenMaskWords(cols: tokens)` a row), its codes (T a row, 0 where free), its frozen count
  /// and 1 − Σ code × `scale`. False if the codes run past `packed`.
  public static func decodeFrozenMap(tokens: Int, bits: Int, scale: Float, mask: UnsafePointer<UInt8>,
                                     packed: UnsafeBufferPointer<UInt8>, rowBits: UnsafeMutablePointer<UInt16>, rowLD: Int,
                                     codes: UnsafeMutablePointer<UInt8>, rowFrozen: UnsafeMutablePointer<Int32>,
                                     rowMass: UnsafeMutablePointer<Float>) -> Bool {
    eam_frozen_map_decode(Int32(tokens), Int32(bits), scale, mask, packed.baseAddress, packed.count, rowBits, Int32(rowLD),
                          codes, rowFrozen, rowMass) == 0
  }

  /// Row-wise softmax over the free entries, frozen entries set to their values (EAM).
  /// `frozen`: per row `frozenLD` words, bit `j % 16` of word `j / 16` set when entry j is frozen.
  /// A frozen entry's value is `codes[r * codesLD + j]` × `codeScale` (codes are read only where
  /// frozen; `nil`: every frozen value is 0, for `putFrozenValues` to fill in).
  @inlinable
  public static func softmaxFrozen(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, cols: Int,
                                   frozen: UnsafePointer<UInt16>, frozenLD: Int, codes: UnsafePointer<UInt8>?,
                                   codesLD: Int, codeScale: Float, freeMass: UnsafePointer<Float>) {
    eam_softmax_rows_frozen(x, Int32(ld), Int32(rows), Int32(cols), frozen, Int32(frozenLD), codes, Int32(codesLD),
                            codeScale, freeMass)
  }

  /// `c = alpha · a · bᵀ` for the rows of `runs` only (pairs: first row, row count); b is packed once.
  @inlinable
  public static func gemmNT(runs: UnsafePointer<Int32>, count: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                            lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
    eam_gemm_nt_rows(Int32(count), runs, Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), c, Int32(ldc))
  }

  /// Exact GELU in place.
  @inlinable
  public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) { eam_gelu(x, count) }

  /// `y += x`.
  @inlinable
  public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) { eam_add(y, x, count) }

  /// Packs a row-major `[n][k]` weight into panels (`packedCount(n:k:)` floats).
  @inlinable
  public static func pack(_ w: UnsafePointer<Float>, ldw: Int, n: Int, k: Int, into packed: UnsafeMutablePointer<Float>) {
    eam_pack_weight(w, Int32(ldw), Int32(n), Int32(k), packed)
  }

  public static func packedCount(n: Int, k: Int) -> Int { eam_pack_size(Int32(n), Int32(k)) }

  /// The CPU's brand string (on aarch64: "aarch64 (neon)" or "aarch64 (neon, dotprod)").
  public static var cpuName: String {
    var buf = [CChar](repeating: 0, count: 64)
    eam_cpu_brand(&buf, 64)
    var s = Substring(String(cString: buf))
    while s.first == " " { s = s.dropFirst() }
    while s.last == " " { s = s.dropLast() }
    return String(s)
  }
}
