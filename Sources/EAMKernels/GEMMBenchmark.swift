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

/// Measures the packed GEMM alone on one thread, for the active variant.
public enum GEMMBenchmark {
  /// GFLOP/s (2·m·n·k per run) of `Kernels.linear` with a bias epilogue, median of `iterations`.
  public static func gflops(m: Int, n: Int, k: Int, iterations: Int = 30) -> Double {
    let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
    let w = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
    let packed = UnsafeMutablePointer<Float>.allocate(capacity: Kernels.packedCount(n: n, k: k))
    let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    let bias = UnsafeMutablePointer<Float>.allocate(capacity: n)
    defer { a.deallocate(); w.deallocate(); packed.deallocate(); c.deallocate(); bias.deallocate() }
    for i in 0..<(m * k) { a[i] = Float(i % 7) * 0.1 }
    for i in 0..<(n * k) { w[i] = Float(i % 5) * 0.1 }
    for i in 0..<n { bias[i] = 1 }
    Kernels.pack(w, ldw: k, n: n, k: k, into: packed)
    var times: [Double] = []
    for i in 0...max(1, iterations) {
      let t0 = seconds()
      Kernels.linear(m: m, n: n, k: k, x: a, ldx: k, packedWeight: packed, bias: bias, y: c, ldy: n, columns: 0..<n,
                     epilogue: .bias)
      if i > 0 { times.append(seconds() - t0) }  // the first run warms caches
    }
    times.sort()
    return 2 * Double(m) * Double(n) * Double(k) / times[times.count / 2] / 1e9
  }

  static func seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }
}
#endif
