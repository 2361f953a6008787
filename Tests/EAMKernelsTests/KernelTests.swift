import Foundation
import Testing
import EAMKernels

/// Deterministic pseudo-random floats in [-1, 1).
func values(_ n: Int, seed: UInt64) -> [Float] {
  var s = seed
  return (0..<n).map { _ in
    s = s &* 6364136223846793005 &+ 1442695040888963407
    return Float(Int64(s >> 40) - (1 << 23)) / Float(1 << 23)
  }
}

/// Runs `body` once per variant this CPU supports, with that variant active on this thread only
/// (other suites running in parallel keep the process-wide variant).
func forEachVariant(_ body: (KernelVariant) throws -> Void) rethrows {
  for v in KernelVariant.allCases where v.isSupported {
    try v.withThreadVariant { try body(v) }
  }
}

func geluReference(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.squareRoot())) }

struct LinearCase: CustomTestStringConvertible, Sendable {
  let m, n, k, ldx, ldy: Int
  let epilogue: Epilogue
  var testDescription: String { "m\(m) n\(n) k\(k) ldx\(ldx) ldy\(ldy) epi\(epilogue.rawValue)" }
}

let linearCases: [LinearCase] = [
  .init(m: 1, n: 5, k: 3, ldx: 3, ldy: 5, epilogue: []),
  .init(m: 7, n: 40, k: 64, ldx: 70, ldy: 45, epilogue: .bias),
  .init(m: 197, n: 1152, k: 384, ldx: 384, ldy: 1152, epilogue: .bias),
  .init(m: 13, n: 33, k: 1536, ldx: 1536, ldy: 33, epilogue: [.bias, .gelu]),
  .init(m: 257, n: 100, k: 65, ldx: 65, ldy: 100, epilogue: [.bias, .accumulate]),
  .init(m: 6, n: 16, k: 1, ldx: 1, ldy: 16, epilogue: [.bias, .gelu, .accumulate]),
]

@Suite struct PackedLinear {
  /// Every variant against a double-precision reference of the same math.
  @Test(arguments: linearCases)
  func matchesDoubleReference(c: LinearCase) {
    let x = values(c.m * c.ldx, seed: 1), w = values(c.n * c.k, seed: 2), bias = values(c.n, seed: 3)
    let initial = values(c.m * c.ldy, seed: 4)
    var packed = [Float](repeating: 0, count: Kernels.packedCount(n: c.n, k: c.k))
    Kernels.pack(w, ldw: c.k, n: c.n, k: c.k, into: &packed)
    var expected = initial
    var bound = [Float](repeating: 0, count: c.m * c.ldy)
    for r in 0..<c.m {
      for j in 0..<c.n {
        var acc = 0.0, magnitude = 0.0
        for i in 0..<c.k {
          acc += Double(x[r * c.ldx + i]) * Double(w[j * c.k + i])
          magnitude += abs(Double(x[r * c.ldx + i]) * Double(w[j * c.k + i]))
        }
        // Float dot products of length k err by at most about k·u·Σ|x·w| (u = 2⁻²⁴); GELU adds
        // its approximation error (≤ 2e-6), the epilogue a few roundings of the result.
        bound[r * c.ldy + j] = Float((Double(c.k) * 6e-8 + 1e-6) * (magnitude + 1) + 3e-6)
        if c.epilogue.contains(.bias) { acc += Double(bias[j]) }
        if c.epilogue.contains(.gelu) { acc = geluReference(acc) }
        if c.epilogue.contains(.accumulate) { acc += Double(initial[r * c.ldy + j]) }
        expected[r * c.ldy + j] = Float(acc)
      }
    }
    forEachVariant { v in
      var y = initial
      Kernels.linear(m: c.m, n: c.n, k: c.k, x: x, ldx: c.ldx, packedWeight: packed, bias: bias, y: &y, ldy: c.ldy,
                     columns: 0..<c.n, epilogue: c.epilogue)
      var failures = 0
      for i in y.indices where abs(y[i] - expected[i]) > bound[i] { failures += 1 }
      #expect(failures == 0, "\(v.name): \(failures) elements beyond the rounding bound")
      // Padding columns between n and ldy are untouched.
      for r in 0..<c.m { for j in c.n..<c.ldy { #expect(y[r * c.ldy + j] == initial[r * c.ldy + j]) } }
    }
  }

  /// The value of each element does not depend on how rows and columns are split (threads).
  @Test func splitDoesNotChangeResults() {
    let m = 50, n = 100, k = 96
    let x = values(m * k, seed: 5), w = values(n * k, seed: 6), bias = values(n, seed: 7)
    var packed = [Float](repeating: 0, count: Kernels.packedCount(n: n, k: k))
    Kernels.pack(w, ldw: k, n: n, k: k, into: &packed)
    forEachVariant { v in
      var whole = [Float](repeating: 0, count: m * n)
      Kernels.linear(m: m, n: n, k: k, x: x, ldx: k, packedWeight: packed, bias: bias, y: &whole, ldy: n,
                     columns: 0..<n, epilogue: [.bias, .gelu])
      var split = [Float](repeating: 0, count: m * n)
      split.withUnsafeMutableBufferPointer { y in
        x.withUnsafeBufferPointer { xp in
          for (r0, r1) in [(0, 7), (7, 31), (31, 50)] {
            for (c0, c1) in [(0, 16), (16, 64), (64, 100)] {
              Kernels.linear(m: r1 - r0, n: n, k: k, x: xp.baseAddress! + r0 * k, ldx: k, packedWeight: packed, bias: bias,
                             y: y.baseAddress! + r0 * n, ldy: n, columns: c0..<c1, epilogue: [.bias, .gelu])
            }
          }
        }
      }
      #expect(split == whole, "\(v.name)")
    }
  }

  @Test func gemmMicroBenchmarkRuns() {
    #expect(GEMMBenchmark.gflops(m: 12, n: 32, k: 16, iterations: 2) > 0)
  }
}

@Suite struct AttentionKernels {
  @Test(arguments: [(1, 1, 1), (17, 33, 64), (257, 257, 64), (49, 49, 600)])
  func gemmNTAndNN(m: Int, n: Int, k: Int) {
    let a = values(m * k, seed: 8), b = values(n * k, seed: 9), v = values(k * n, seed: 10)
    forEachVariant { variant in
      var c = [Float](repeating: 0, count: m * n)
      Kernels.gemmNT(m: m, n: n, k: k, alpha: 0.125, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
      var out = [Float](repeating: 1, count: m * n)
      Kernels.gemmNN(m: m, n: n, k: k, a: a, lda: k, b: v, ldb: n, c: &out, ldc: n, accumulate: true)
      var failures = 0
      for i in 0..<m {
        for j in 0..<n {
          var s = 0.0, t = 0.0, ms = 0.0, mt = 0.0
          for kk in 0..<k {
            s += Double(a[i * k + kk]) * Double(b[j * k + kk])
            t += Double(a[i * k + kk]) * Double(v[kk * n + j])
            ms += abs(Double(a[i * k + kk]) * Double(b[j * k + kk]))
            mt += abs(Double(a[i * k + kk]) * Double(v[kk * n + j]))
          }
          if abs(Double(c[i * n + j]) - 0.125 * s) > (Double(k) * 6e-8 + 1e-6) * ms + 1e-6 { failures += 1 }
          if abs(Double(out[i * n + j]) - (1 + t)) > (Double(k) * 6e-8 + 1e-6) * (mt + 1) + 1e-6 { failures += 1 }
        }
      }
      #expect(failures == 0, "\(variant.name): \(failures) elements beyond the rounding bound")
    }
  }

  @Test func softmaxRowsSumToOneAndMatchReference() {
    let rows = 9, cols = 257, ld = 260
    let input = values(rows * ld, seed: 11).map { $0 * 20 }
    forEachVariant { v in
      var x = input
      Kernels.softmax(&x, ld: ld, rows: rows, cols: cols)
      for r in 0..<rows {
        let row = input[(r * ld)..<(r * ld + cols)].map(Double.init)
        let mx = row.max()!
        let z = row.reduce(0) { $0 + exp($1 - mx) }
        var sum = 0.0
        for j in 0..<cols {
          sum += Double(x[r * ld + j])
          #expect(abs(Double(x[r * ld + j]) - exp(row[j] - mx) / z) <= 1e-6, "\(v.name)")
        }
        #expect(abs(sum - 1) < 1e-5)
        #expect(x[(r * ld + cols)..<(r * ld + ld)] == input[(r * ld + cols)..<(r * ld + ld)])
      }
    }
  }

  @Test func frozenSoftmaxKeepsFrozenValuesAndRenormalisesTheRest() {
    let cols = 5
    let input: [Float] = [1, 2, 3, 4, 5, 0, 0, 0, 0, 0]
    let frozen: [UInt16] = [0b10010, 0b11111]
    let codes: [UInt8] = [9, 2, 9, 9, 1, 2, 2, 2, 2, 2]  // value = code × 0.1 where frozen; free codes are ignored
    let freeMass: [Float] = [0.7, 0]
    forEachVariant { v in
      var x = input
      Kernels.softmaxFrozen(&x, ld: cols, rows: 2, cols: cols, frozen: frozen, frozenLD: 1, codes: codes, codesLD: cols,
                            codeScale: 0.1, freeMass: freeMass)
      let e = [1.0, 3, 4].map { exp($0 - 4) }, z = e.reduce(0, +)
      #expect(abs(Double(x[0]) - 0.7 * e[0] / z) < 1e-6, "\(v.name)")
      #expect(x[1] == 0.2 && x[4] == 0.1, "\(v.name)")
      #expect(abs(Double(x[3]) - 0.7 * e[2] / z) < 1e-6, "\(v.name)")
      #expect(abs(x[0..<5].reduce(0, +) - 1) < 1e-6, "\(v.name)")
      #expect(Array(x[5...]) == [0.2, 0.2, 0.2, 0.2, 0.2], "\(v.name)")
    }
  }

  /// Every variant against a double-precision reference: rows with none, all, one, some and most
  /// entries frozen, lengths around multiples of 8 and 16, and a row whose free scores are all
  /// −inf (frozen values, zeros elsewhere). Frozen scores are NaN (they must not matter), mask
  /// bits past the row end are set (they must be ignored), padding stays untouched.
  @Test(arguments: [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 100, 257])
  func frozenSoftmaxMatchesReference(cols: Int) {
    let ld = cols + 3, words = Kernels.frozenMaskWords(cols: cols), fld = words + 1
    // Row patterns: p(frozen) per row, then rows with exactly one free entry (first, last, middle).
    let fractions: [Double] = [0, 1, 0.1, 0.3, 0.5, 0.9, 0.99]
    let rows = fractions.count + 4
    var frozen = [[Bool]]()
    var s: UInt64 = 42 &+ UInt64(cols)
    func uniform() -> Double {
      s = s &* 6364136223846793005 &+ 1442695040888963407
      return Double(s >> 11) / Double(1 << 53)
    }
    for f in fractions { frozen.append((0..<cols).map { _ in uniform() < f }) }
    for free in [0, cols - 1, cols / 2] { frozen.append((0..<cols).map { $0 != free }) }
    frozen.append((0..<cols).map { $0 % 3 == 1 })  // its free scores: −inf
    var bits = [UInt16](repeating: 0xFFFF, count: rows * fld)  // every bit past the row end set
    var vals = [Float](repeating: 0, count: rows * ld), mass = [Float](repeating: 1, count: rows)
    var input = values(rows * ld, seed: UInt64(100 + cols)).map { $0 * 20 }
    var codes = [UInt8](repeating: 0xAB, count: rows * ld)  // free entries' codes must be ignored
    let scale = Float(0.5 / Double(255 * cols))
    for r in 0..<rows {
      for w in 0..<words { bits[r * fld + w] = 0 }
      var m: Float = 1
      for j in 0..<cols where frozen[r][j] {
        bits[r * fld + j / 16] |= 1 << UInt16(j % 16)
        codes[r * ld + j] = UInt8(uniform() * 255)
        vals[r * ld + j] = Float(codes[r * ld + j]) * scale
        m -= vals[r * ld + j]
        input[r * ld + j] = .nan
      }
      mass[r] = max(0, min(1, m))
    }
    for j in 0..<cols where !frozen[rows - 1][j] { input[(rows - 1) * ld + j] = -.infinity }
    forEachVariant { v in
      var x = input
      Kernels.softmaxFrozen(&x, ld: ld, rows: rows, cols: cols, frozen: bits, frozenLD: fld, codes: codes, codesLD: ld,
                            codeScale: scale, freeMass: mass)
      var failures = 0
      for r in 0..<rows {
        let free = (0..<cols).filter { !frozen[r][$0] }
        let mx = free.map { Double(input[r * ld + $0]) }.max() ?? 0
        let z = free.reduce(0.0) { $0 + exp(Double(input[r * ld + $1]) - mx) }
        for j in 0..<cols {
          let expected = frozen[r][j] ? Double(vals[r * ld + j])
            : mx == -.infinity ? 0 : Double(mass[r]) * exp(Double(input[r * ld + j]) - mx) / z
          if frozen[r][j] ? x[r * ld + j] != vals[r * ld + j] : !(abs(Double(x[r * ld + j]) - expected) <= 1e-6) {
            failures += 1
          }
        }
        for j in cols..<ld where x[r * ld + j].bitPattern != input[r * ld + j].bitPattern { failures += 1 }
      }
      #expect(failures == 0, "\(v.name) cols \(cols): \(failures) wrong elements")
    }
  }

  /// Q·Kᵀ over row runs: each computed element equals what the whole GEMM gives; other rows are
  /// left alone.
  @Test func gemmNTOverRowRunsMatchesTheWholeProduct() {
    let m = 257, n = 257, k = 64
    let a = values(m * k, seed: 20), b = values(n * k, seed: 21)
    let runs: [Int32] = [0, 1, 3, 2, 6, 7, 20, 100, 250, 7]
    forEachVariant { v in
      var whole = [Float](repeating: 0, count: m * n)
      Kernels.gemmNT(m: m, n: n, k: k, alpha: 0.125, a: a, lda: k, b: b, ldb: k, c: &whole, ldc: n)
      var part = [Float](repeating: -7, count: m * n)
      Kernels.gemmNT(runs: runs, count: runs.count / 2, n: n, k: k, alpha: 0.125, a: a, lda: k, b: b, ldb: k, c: &part, ldc: n)
      var inRun = [Bool](repeating: false, count: m)
      for i in stride(from: 0, to: runs.count, by: 2) { for r in Int(runs[i])..<Int(runs[i] + runs[i + 1]) { inRun[r] = true } }
      var failures = 0
      for r in 0..<m {
        for j in 0..<n where part[r * n + j] != (inRun[r] ? whole[r * n + j] : -7) { failures += 1 }
      }
      #expect(failures == 0, "\(v.name): \(failures) elements differ")
    }
  }
}

@Suite struct ElementWise {
  @Test func geluMatchesErfReference() {
    let input = (0..<4001).map { Float($0 - 2000) / 200 }  // [-10, 10]
    forEachVariant { v in
      var x = input
      Kernels.gelu(&x, count: x.count)
      var worst = 0.0
      for i in x.indices { worst = max(worst, abs(Double(x[i]) - geluReference(Double(input[i])))) }
      #expect(worst <= 2e-6, "\(v.name): max error \(worst)")
    }
  }

  @Test func layerNormMatchesReference() {
    let rows = 5, dim = 384, ld = 400
    let x = values(rows * ld, seed: 12).map { $0 * 3 + 1 }, g = values(dim, seed: 13), b = values(dim, seed: 14)
    forEachVariant { v in
      var y = [Float](repeating: 0, count: rows * ld)
      Kernels.layerNorm(x: x, ldx: ld, y: &y, ldy: ld, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6)
      for r in 0..<rows {
        let row = x[(r * ld)..<(r * ld + dim)].map(Double.init)
        let mean = row.reduce(0, +) / Double(dim)
        let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(dim)
        for j in 0..<dim {
          let expected = (row[j] - mean) / (variance + 1e-6).squareRoot() * Double(g[j]) + Double(b[j])
          #expect(abs(Double(y[r * ld + j]) - expected) <= 3e-6, "\(v.name)")
        }
      }
    }
  }

  @Test func variantNamesRoundTrip() {
    for v in KernelVariant.allCases { #expect(!v.name.isEmpty) }
    #expect(KernelVariant.scalar.isSupported)
    #expect(KernelVariant.active.isSupported)
  }
}
