// Hosted builds only: the embeddable core has no benchmarks.
#if !hasFeature(Embedded)
import CEAMKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("GEMMBenchmark: needs Glibc or Darwin for the clock")
#endif

/// Measures the linear-layer GEMMs alone on one thread, for the active variant.
public enum GEMMBenchmark {
  /// How the weight of the measured GEMM is stored.
  public enum Weights: String, CaseIterable, Sendable {
    /// f32 panels (`Kernels.linear`).
    case f32
    /// binary16 panels (`Kernels.linearF16`).
    case f16
    /// int8 weights and activations on the active `Int8Path`, activations quantized beforehand
    /// (the GEMM alone is timed; `quantizeSeconds` times the quantizer).
    case int8
    /// int4 weights in groups of 32 k, f32 activations (`Kernels.linearInt4`).
    case int4
  }

  /// GFLOP/s (2·m·n·k per run) of `Kernels.linear` with a bias epilogue, median of `iterations`.
  public static func gflops(m: Int, n: Int, k: Int, iterations: Int = 30) -> Double {
    gflops(.f32, m: m, n: n, k: k, iterations: iterations)
  }

  /// GFLOP/s (for int8: GOP/s) of one weight type's GEMM with a bias epilogue, median of `iterations`.
  public static func gflops(_ weights: Weights, m: Int, n: Int, k: Int, iterations: Int = 30) -> Double {
    let s = compare([weights], m: m, n: n, k: k, iterations: iterations)[0]
    return 2 * Double(m) * Double(n) * Double(k) / s / 1e9
  }

  /// Which run time of a series a measurement reports.
  public enum Statistic: Sendable {
    /// The median: what a run typically costs on the machine as it is.
    case median
    /// The fastest run: the kernel without interference, on a machine shared with other work.
    case minimum
  }

  /// Seconds per run of each weight type's GEMM on the same activations and weights (median or
  /// fastest of `iterations`), runs alternating between the types (so that a machine busy with
  /// other work slows them alike).
  public static func compare(_ types: [Weights], m: Int, n: Int, k: Int, iterations: Int = 30,
                             statistic: Statistic = .median) -> [Double] {
    let problem = Problem(m: m, n: n, k: k)
    defer { problem.free() }
    let runs = types.map { problem.setup($0) }
    defer { for r in runs { r.free() } }
    var times = [[Double]](repeating: [], count: types.count)
    for i in 0...max(1, iterations) {
      for (t, r) in runs.enumerated() {
        let t0 = seconds()
        r.run()
        if i > 0 { times[t].append(seconds() - t0) }  // the first round warms caches
      }
    }
    return times.map { statistic == .median ? $0.sorted()[$0.count / 2] : $0.min()! }
  }

  /// Median seconds of quantizing m rows of k activations (`Kernels.quantizeRows`, 8-bit codes).
  public static func quantizeSeconds(m: Int, k: Int, iterations: Int = 30) -> Double {
    let problem = Problem(m: m, n: 1, k: k)
    defer { problem.free() }
    let kp = Kernels.int8PaddedK(k)
    let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: m * kp), scales = UnsafeMutablePointer<Float>.allocate(capacity: m)
    let zeros = UnsafeMutablePointer<Int32>.allocate(capacity: m)
    defer { codes.deallocate(); scales.deallocate(); zeros.deallocate() }
    var times: [Double] = []
    for i in 0...max(1, iterations) {
      let t0 = seconds()
      Kernels.quantizeRows(x: problem.x, ldx: k, rows: m, k: k, codeMax: 255, codes: codes, ldq: kp, scales: scales, zeros: zeros)
      if i > 0 { times.append(seconds() - t0) }
    }
    return times.sorted()[times.count / 2]
  }

  /// Activations, weight, bias and output of one measured shape.
  struct Problem {
    let m, n, k: Int
    let x, w, y, bias: UnsafeMutablePointer<Float>

    init(m: Int, n: Int, k: Int) {
      precondition(m > 0 && n > 0 && k > 0 && m <= 1 << 20 && n <= 1 << 20 && k <= 1 << 20, "GEMM shape")
      self.m = m; self.n = n; self.k = k
      x = .allocate(capacity: m * k); w = .allocate(capacity: n * k); y = .allocate(capacity: m * n); bias = .allocate(capacity: n)
      for i in 0..<(m * k) { x[i] = Float(i % 7) * 0.1 - 0.3 }
      for i in 0..<(n * k) { w[i] = Float(i % 5) * 0.1 - 0.2 }
      for i in 0..<n { bias[i] = 1 }
    }

    func free() { x.deallocate(); w.deallocate(); y.deallocate(); bias.deallocate() }

    /// The packed weight of a type and the call that runs its GEMM once.
    func setup(_ type: Weights) -> Run {
      switch type {
      case .f32:
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: Kernels.packedCount(n: n, k: k))
        Kernels.pack(w, ldw: k, n: n, k: k, into: packed)
        return Run(free: { packed.deallocate() }) { [self] in
          Kernels.linear(m: m, n: n, k: k, x: x, ldx: k, packedWeight: packed, bias: bias, y: y, ldy: n, columns: 0..<n,
                         epilogue: .bias)
        }
      case .f16:
        let packed = UnsafeMutablePointer<UInt16>.allocate(capacity: eam_pack_size_f16(Int32(n), Int32(k)))
        precondition(eam_pack_weight_f16(w, Int32(k), Int32(n), Int32(k), packed) == 0)
        return Run(free: { packed.deallocate() }) { [self] in
          Kernels.linearF16(m: m, n: n, k: k, x: x, ldx: k, packedWeight: packed, bias: bias, y: y, ldy: n, columns: 0..<n,
                            epilogue: .bias)
        }
      case .int8:
        let kp = Kernels.int8PaddedK(k), columns = eam_int8_columns(Int32(n)), path = Int8Path.active
        let packed = UnsafeMutablePointer<Int8>.allocate(capacity: eam_pack_size_s8(Int32(n), Int32(k)))
        let colScale = UnsafeMutablePointer<Float>.allocate(capacity: columns), colSum = UnsafeMutablePointer<Int32>.allocate(capacity: columns)
        let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: m * kp), rowScale = UnsafeMutablePointer<Float>.allocate(capacity: m)
        let rowZero = UnsafeMutablePointer<Int32>.allocate(capacity: m)
        precondition(eam_pack_weight_s8(w, Int32(k), Int32(n), Int32(k), packed, colScale, colSum) == 0)
        Kernels.quantizeRows(x: x, ldx: k, rows: m, k: k, codeMax: path.codeMax, codes: codes, ldq: kp, scales: rowScale,
                             zeros: rowZero)
        return Run(free: {
          packed.deallocate(); colScale.deallocate(); colSum.deallocate(); codes.deallocate(); rowScale.deallocate()
          rowZero.deallocate()
        }) { [self] in
          Kernels.linearInt8(path: path, m: m, n: n, k: k, codes: codes, ldq: kp, rowScales: rowScale, rowZeros: rowZero,
                             packedWeight: packed, columnScales: colScale, columnSums: colSum, bias: bias, y: y, ldy: n,
                             columns: 0..<n, epilogue: .bias)
        }
      case .int4:
        let group = Kernels.int4DefaultGroup
        let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: eam_pack_size_int4(Int32(n), Int32(k)))
        let scales = UnsafeMutablePointer<UInt16>.allocate(capacity: eam_int4_scale_count(Int32(n), Int32(k), Int32(group)))
        precondition(eam_pack_weight_int4(w, Int32(k), Int32(n), Int32(k), Int32(group), codes, scales) == 0)
        return Run(free: { codes.deallocate(); scales.deallocate() }) { [self] in
          Kernels.linearInt4(m: m, n: n, k: k, group: group, x: x, ldx: k, codes: codes, scales: scales, bias: bias, y: y, ldy: n,
                             columns: 0..<n, epilogue: .bias)
        }
      }
    }
  }

  struct Run {
    let free: () -> Void
    let run: () -> Void
    init(free: @escaping () -> Void, run: @escaping () -> Void) { self.free = free; self.run = run }
  }

  static func seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}
#endif
