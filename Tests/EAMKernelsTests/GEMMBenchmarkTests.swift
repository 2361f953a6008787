import Foundation
import Testing
import EAMKernels


/// DINOv2-S/14 linear layers at 224² (257 tokens): qkv, proj, fc1, fc2 as (n, k).
let dinov2Linears: [(name: String, n: Int, k: Int)] = [("qkv", 1152, 384), ("proj", 384, 384), ("fc1", 1536, 384), ("fc2", 384, 1536)]

@Suite struct GEMMBenchmarks {
  @Test func everyWeightTypeRuns() {
    for t in GEMMBenchmark.Weights.allCases { #expect(GEMMBenchmark.gflops(t, m: 7, n: 20, k: 9, iterations: 2) > 0, "\(t)") }
    #expect(GEMMBenchmark.quantizeSeconds(m: 3, k: 10, iterations: 2) > 0)
  }

  /// The measurement quoted in docs/KERNELS.md; runs only with EAM_GEMM_BENCH=1.
  @Test(.enabled(if: getenv("EAM_GEMM_BENCH") != nil))
  func dinov2Shapes() {
    print("one thread, \(Kernels.cpuName), kernels \(KernelVariant.active.name)")
    for v in KernelVariant.allCases where v.isSupported && v != .scalar {
      v.withThreadVariant {
        for s in dinov2Linears {
          for statistic in [GEMMBenchmark.Statistic.minimum, .median] {
            let t = GEMMBenchmark.compare(GEMMBenchmark.Weights.allCases, m: 257, n: s.n, k: s.k, iterations: 100, statistic: statistic)
            let row = zip(GEMMBenchmark.Weights.allCases, t).map { w, sec in
              "\(w.rawValue) \(String(format: "%.0f", sec * 1e6)) µs (\(String(format: "%.0f", 2 * 257 * Double(s.n * s.k) / sec / 1e9)))"
            }
            print("\(v.name) \(statistic) \(s.name) m257 n\(s.n) k\(s.k): " + row.joined(separator: ", ")
                  + "; f16/f32 \(String(format: "%.3f", t[1] / t[0])), int4/f32 \(String(format: "%.3f", t[3] / t[0]))")
          }
        }
      }
    }
    for p in Int8Path.allCases where p.isSupported {
      p.withThreadPath {
        for statistic in [GEMMBenchmark.Statistic.minimum, .median] {
          let gops = dinov2Linears.map { s in
            let t = GEMMBenchmark.compare([.int8], m: 257, n: s.n, k: s.k, iterations: p == .portable ? 5 : 100, statistic: statistic)[0]
            return String(format: "%.0f", 2 * 257 * Double(s.n * s.k) / t / 1e9)
          }
          print("int8 \(p.name) \(statistic) GOPS (qkv, proj, fc1, fc2): " + gops.joined(separator: ", "))
        }
      }
    }
    for v in KernelVariant.allCases where v.isSupported {
      v.withThreadVariant {
        print("quantize 257×384 (\(v.name)): \(String(format: "%.1f", GEMMBenchmark.quantizeSeconds(m: 257, k: 384, iterations: 100) * 1e6)) µs")
      }
    }
  }
}
