import Testing
import EAMKernels

/// The activation quantization of `eam_quant.h`, written again from its definition.
/// `range`: static quantization's one range instead of the row's own.
func quantizeReference(_ x: ArraySlice<Float>, codeMax: Int, range given: (lo: Float, hi: Float)? = nil)
  -> (codes: [UInt8], scale: Float, zero: Int32)
{
  var mn: Float = 0, mx: Float = 0
  if let given { (mn, mx) = (Swift.min(given.lo, 0), Swift.max(given.hi, 0)) } else {
    for v in x { mn = Swift.min(mn, v); mx = Swift.max(mx, v) }
  }
  let range = mx - mn, qmax = Float(codeMax)
  var inv: Float = range > 0 ? qmax / range : 0
  if !inv.isFinite { inv = 0 }
  let zero = Swift.min(Swift.max(Int32((-mn * inv).rounded(.toNearestOrEven)), 0), Int32(codeMax))
  let codes = x.map { v in UInt8(Swift.min(Swift.max(Int32((v * inv).rounded(.toNearestOrEven)) + zero, 0), Int32(codeMax))) }
  return (codes, range / qmax, zero)
}

/// Activations, a weight and its int8 form, quantized activations for a code maximum.
struct Int8Problem {
  let m, n, k, kp: Int
  let x, w, bias, initial: [Float]
  let packed: (codes: [Int8], scales: [Float], columnSums: [Int32])

  init(m: Int, n: Int, k: Int, seed: UInt64) throws {
    self.m = m; self.n = n; self.k = k; kp = Kernels.int8PaddedK(k)
    x = values(m * k, seed: seed).map { $0 * 3 + 0.7 }  // skewed: the zero point matters
    w = values(n * k, seed: seed + 1)
    bias = values(n, seed: seed + 2); initial = values(m * n, seed: seed + 3)
    packed = try WeightPacking.packInt8(weight: w, n: n, k: k)
  }

  func quantize(codeMax: Int) -> (codes: [UInt8], scales: [Float], zeros: [Int32]) {
    var codes = [UInt8](repeating: 0xAB, count: m * kp), scales = [Float](repeating: 0, count: m)
    var zeros = [Int32](repeating: 0, count: m)
    Kernels.quantizeRows(x: x, ldx: k, rows: m, k: k, codeMax: codeMax, codes: &codes, ldq: kp, scales: &scales, zeros: &zeros)
    return (codes, scales, zeros)
  }

  func run(_ path: Int8Path, _ q: (codes: [UInt8], scales: [Float], zeros: [Int32]), epilogue: Epilogue,
           columns: Range<Int>? = nil) -> [Float] {
    var y = initial
    let ok = Kernels.linearInt8(path: path, m: m, n: n, k: k, codes: q.codes, ldq: kp, rowScales: q.scales, rowZeros: q.zeros,
                                packedWeight: packed.codes, columnScales: packed.scales, columnSums: packed.columnSums,
                                bias: bias, y: &y, ldy: n, columns: columns ?? 0..<n, epilogue: epilogue)
    #expect(ok)
    return y
  }

  /// The output computed in pieces, one call per (rows, columns) pair of the splits (as threads
  /// split a layer), each piece's rows passed as their own matrix.
  func runSplit(_ path: Int8Path, _ q: (codes: [UInt8], scales: [Float], zeros: [Int32]), epilogue: Epilogue,
                rows: [Range<Int>], columns: [Range<Int>]) -> [Float] {
    var y = initial
    q.codes.withUnsafeBufferPointer { codes in
      q.scales.withUnsafeBufferPointer { scales in
        q.zeros.withUnsafeBufferPointer { zeros in
          y.withUnsafeMutableBufferPointer { y in
            for r in rows {
              for c in columns {
                let ok = Kernels.linearInt8(path: path, m: r.count, n: n, k: k, codes: codes.baseAddress! + r.lowerBound * kp,
                                            ldq: kp, rowScales: scales.baseAddress! + r.lowerBound,
                                            rowZeros: zeros.baseAddress! + r.lowerBound, packedWeight: packed.codes,
                                            columnScales: packed.scales, columnSums: packed.columnSums, bias: bias,
                                            y: y.baseAddress! + r.lowerBound * n, ldy: n, columns: c, epilogue: epilogue)
                #expect(ok, "\(path.name) rows \(r) columns \(c)")
              }
            }
          }
        }
      }
    }
    return y
  }
}

let int8Shapes: [WideShape] = [1, 7, 197, 257].flatMap { m in
  [(5, 588), (100, 384), (389, 1536), (37, 3)].map { WideShape(m: m, n: $0.0, k: $0.1) }
} + [2, 3, 4, 6].map { WideShape(m: $0, n: 100, k: 384) }  // every short last tile of the paths' tiles
  + [32, 33, 64, 95].map { WideShape(m: $0, n: 80, k: 128) }  // AMX: whole 32 × 32 blocks, and the rows and columns past them
  + [1, 6, 7].map { WideShape(m: $0, n: 29, k: 40) }  // AVX2's 8-column halves: a last panel of 13 columns (8 + 5)

@Suite struct Int8Quantization {
  /// Codes, scales and zero points: the documented formula, on every variant, bit for bit.
  @Test(arguments: [1, 3, 8, 31, 32, 33, 384, 1537])
  func activationsMatchTheDefinition(k: Int) {
    let rows = 7, ld = k + 3, kp = Kernels.int8PaddedK(k), ldq = kp + 4
    var x = values(rows * ld, seed: UInt64(k)).map { $0 * 2 + 0.5 }
    for j in 0..<k { x[3 * ld + j] = abs(x[3 * ld + j]) }  // positive only: zero point 0
    for j in 0..<k { x[4 * ld + j] = 0 }                   // all zero: scale 0
    for j in 0..<k { x[5 * ld + j] *= 1e-39 }              // subnormal: qmax / range overflows
    for j in 0..<k { x[6 * ld + j] *= 1e30 }               // large
    for codeMax in [255, 127] {
      forEachVariant { v in
        var codes = [UInt8](repeating: 0xAB, count: rows * ldq), scales = [Float](repeating: -1, count: rows)
        var zeros = [Int32](repeating: -1, count: rows)
        Kernels.quantizeRows(x: x, ldx: ld, rows: rows, k: k, codeMax: codeMax, codes: &codes, ldq: ldq, scales: &scales, zeros: &zeros)
        for r in 0..<rows {
          let ref = quantizeReference(x[(r * ld)..<(r * ld + k)], codeMax: codeMax)
          #expect(Array(codes[(r * ldq)..<(r * ldq + k)]) == ref.codes, "\(v.name) row \(r) qmax \(codeMax)")
          #expect(scales[r].bitPattern == ref.scale.bitPattern && zeros[r] == ref.zero, "\(v.name) row \(r)")
          #expect(codes[(r * ldq + k)..<(r * ldq + kp)].allSatisfy { $0 == 0 }, "padding codes")
          #expect(codes[(r * ldq + kp)..<(r * ldq + ldq)].allSatisfy { $0 == 0xAB }, "past the padded row")
          // Every value within half a step of its code (rounding).
          for j in 0..<k where r != 5 {
            let back = ref.scale * Float(Int32(codes[r * ldq + j]) - ref.zero)
            #expect(abs(back - x[r * ld + j]) <= ref.scale * 0.5001 + abs(x[r * ld + j]) * 1e-6 + 1e-7, "row \(r) k \(j)")
          }
        }
      }
    }
  }

  /// Static activations: one range for every row, values outside it clamped; the documented
  /// formula bit for bit on every variant, and the per-row codes where the range is the row's own.
  @Test(arguments: [1, 33, 384])
  func staticRangeMatchesTheDefinition(k: Int) {
    let rows = 5, kp = Kernels.int8PaddedK(k)
    let x = values(rows * k, seed: UInt64(k) + 9).map { $0 * 2 + 0.3 }
    let own = (lo: x[0..<k].reduce(0, Swift.min), hi: x[0..<k].reduce(0, Swift.max))
    for (range, codeMax) in [((lo: Float(-0.5), hi: Float(1.25)), 255), ((lo: Float(0), hi: Float(0.75)), 127), (own, 255)] {
      forEachVariant { v in
        var codes = [UInt8](repeating: 0xAB, count: rows * kp), scales = [Float](repeating: -1, count: rows)
        var zeros = [Int32](repeating: -1, count: rows)
        Kernels.quantizeRows(x: x, ldx: k, rows: rows, k: k, codeMax: codeMax, range: range, codes: &codes, ldq: kp,
                             scales: &scales, zeros: &zeros)
        for r in 0..<rows {
          let ref = quantizeReference(x[(r * k)..<(r * k + k)], codeMax: codeMax, range: range)
          #expect(Array(codes[(r * kp)..<(r * kp + k)]) == ref.codes, "\(v.name) row \(r) \(range)")
          #expect(scales[r].bitPattern == ref.scale.bitPattern && zeros[r] == ref.zero, "\(v.name) row \(r)")
          #expect(codes[(r * kp + k)..<(r * kp + kp)].allSatisfy { $0 == 0 })
        }
        if range == own {
          var dynamic = [UInt8](repeating: 0, count: kp), s: Float = 0, z: Int32 = 0
          Kernels.quantizeRows(x: x, ldx: k, rows: 1, k: k, codeMax: codeMax, codes: &dynamic, ldq: kp, scales: &s, zeros: &z)
          #expect(Array(codes[0..<kp]) == dynamic && scales[0] == s && zeros[0] == z, "\(v.name)")
        }
      }
    }
  }

  /// The packed layout, scales and column sums are the documented ones.
  @Test func weightLayoutMatchesTheDefinition() throws {
    let n = 37, k = 10, kp = Kernels.int8PaddedK(k)
    var w = values(n * k, seed: 50)
    for j in 0..<k { w[5 * k + j] = 0 }  // a zero column
    let p = try WeightPacking.packInt8(weight: w, n: n, k: k)
    let np = (n + 15) / 16 * 16
    #expect(p.codes.count == np * kp && p.scales.count == np && p.columnSums.count == np)
    var failures = 0
    for c in 0..<np {
      let amax = c < n ? (0..<k).map { abs(w[c * k + $0]) }.max()! : 0
      let s = amax / 127
      if p.scales[c].bitPattern != s.bitPattern { failures += 1 }
      var sum: Int32 = 0
      for j in 0..<kp {
        let expected: Int8 = c < n && j < k && s > 0 ? Int8(Swift.max(-127, Swift.min(127, (w[c * k + j] / s).rounded(.toNearestOrEven)))) : 0
        sum += Int32(expected)
        if p.codes[((c / 16) * (kp / 4) + j / 4) * 64 + (c % 16) * 4 + j % 4] != expected { failures += 1 }
      }
      if p.columnSums[c] != sum { failures += 1 }
    }
    #expect(failures == 0)
    #expect(throws: WeightPackingError.self) { _ = try WeightPacking.packInt8(weight: [1, .nan], n: 1, k: 2) }
  }
}

@Suite struct Int8Linear {
  /// Every path the CPU has gives exactly the portable path's outputs for the same codes, 8-bit
  /// codes and narrower ones (7-bit: extremes at other positions).
  @Test(arguments: int8Shapes)
  func everyPathMatchesPortable(c: WideShape) throws {
    let problem = try Int8Problem(m: c.m, n: c.n, k: c.k, seed: 60)
    for codeMax in [255, 127] {
      let q = problem.quantize(codeMax: codeMax)
      for epilogue in allEpilogues {
        let reference = problem.run(.portable, q, epilogue: epilogue)
        for path in Int8Path.allCases where path != .portable && path.isSupported && path.codeMax >= codeMax {
          #expect(bits(problem.run(path, q, epilogue: epilogue)) == bits(reference),
                  "\(path.name) qmax \(codeMax) epilogue \(epilogue.rawValue)")
        }
      }
    }
  }

  /// The portable path against the definition, in exact integers: d = Σ u·q − z·Σq, then
  /// (float)d · (s_r · s_n) (+ bias) (+ y). Some rows of each shape.
  @Test(arguments: int8Shapes.filter { $0.m > 1 || $0.k > 3 })
  func portableMatchesExactIntegers(c: WideShape) throws {
    let problem = try Int8Problem(m: c.m, n: c.n, k: c.k, seed: 61)
    let q = problem.quantize(codeMax: 255)
    let y = problem.run(.portable, q, epilogue: [.bias, .accumulate])
    let kp = problem.kp
    var failures = 0
    for r in Set([0, c.m / 2, c.m - 1]) {
      for j in 0..<c.n {
        var dot: Int64 = 0
        for i in 0..<kp {
          dot += Int64(q.codes[r * kp + i]) * Int64(problem.packed.codes[((j / 16) * (kp / 4) + i / 4) * 64 + (j % 16) * 4 + i % 4])
        }
        let d = dot - Int64(q.zeros[r]) * Int64(problem.packed.columnSums[j])
        let v = Float(Int32(d)) * (q.scales[r] * problem.packed.scales[j]) + problem.bias[j] + problem.initial[r * c.n + j]
        if v.bitPattern != y[r * c.n + j].bitPattern { failures += 1 }
      }
    }
    #expect(failures == 0)
  }

  /// The quantized GEMM approximates the float one: relative RMS error of x·Wᵀ per shape, for
  /// 8-bit and for 7-bit activation codes.
  @Test func approximatesTheFloatProduct() throws {
    let problem = try Int8Problem(m: 33, n: 70, k: 384, seed: 62)
    var exact = [Double](repeating: 0, count: problem.m * problem.n)
    for r in 0..<problem.m {
      for j in 0..<problem.n {
        for i in 0..<problem.k { exact[r * problem.n + j] += Double(problem.x[r * problem.k + i]) * Double(problem.w[j * problem.k + i]) }
      }
    }
    for codeMax in [255, 127] {
      let y = problem.run(.portable, problem.quantize(codeMax: codeMax), epilogue: [])
      var err = 0.0, norm = 0.0
      for i in exact.indices { err += (Double(y[i]) - exact[i]) * (Double(y[i]) - exact[i]); norm += exact[i] * exact[i] }
      // Uniform codes on both sides: about step/√12 of error per term; 1% RMS is already generous.
      #expect((err / norm).squareRoot() < (codeMax == 255 ? 0.01 : 0.02), "qmax \(codeMax): \((err / norm).squareRoot())")
    }
  }

  /// Row and column splits (threads) do not change any element; columns outside the range and
  /// the matrix past n are untouched.
  @Test func splitDoesNotChangeResults() throws {
    let problem = try Int8Problem(m: 50, n: 100, k: 96, seed: 63)
    let q = problem.quantize(codeMax: 127)
    for path in Int8Path.allCases where path.isSupported {
      let whole = problem.run(path, q, epilogue: [.bias, .gelu])
      let split = problem.runSplit(path, q, epilogue: [.bias, .gelu], rows: [0..<7, 7..<31, 31..<50],
                                   columns: [0..<16, 16..<64, 64..<100])
      #expect(bits(split) == bits(whole), "\(path.name)")
      let part = problem.run(path, q, epilogue: [], columns: 32..<70)
      var outside = 0
      for r in 0..<problem.m { for j in 0..<problem.n where !(32..<70).contains(j) && part[r * problem.n + j] != problem.initial[r * problem.n + j] { outside += 1 } }
      #expect(outside == 0, "\(path.name)")
    }
  }
}

@Suite struct Int8AMXBlocks {
  /// The AMX path's blocks (32 rows × 32 columns, k in steps of 64) and the VNNI-512 rest around
  /// them give the portable bits for any split of rows and columns (threads split layers so).
  @Test func anySplitGivesThePortableBits() throws {
    guard Int8Path.amx.isSupported else { return }
    let problem = try Int8Problem(m: 80, n: 100, k: 192, seed: 64)
    let q = problem.quantize(codeMax: 255)
    let reference = problem.run(.portable, q, epilogue: [.bias, .accumulate])
    let split = problem.runSplit(.amx, q, epilogue: [.bias, .accumulate], rows: [0..<7, 7..<45, 45..<80],
                                 columns: [0..<16, 16..<64, 64..<100])
    #expect(bits(split) == bits(reference))
    #expect(bits(problem.run(.amx, q, epilogue: [.bias, .accumulate])) == bits(reference))
  }
}

@Suite struct Int8Paths {
  @Test func selectionIsDetectableAndForceable() {
    #expect(Int8Path.portable.isSupported && Int8Path.active.isSupported)
    #expect(Int8Path.best(for: .scalar) == .portable)
    #expect(Int8Path.allCases.allSatisfy { $0.codeMax == 255 })
    for p in Int8Path.allCases {
      #expect(!p.name.isEmpty)
      if p.isSupported { p.withThreadPath { #expect(Int8Path.active == p) } }
    }
    if KernelVariant.avx2.isSupported {
      #expect([.avx2, .avxVNNI].contains(Int8Path.best(for: .avx2)))
      KernelVariant.scalar.withThreadVariant { #expect(Int8Path.active == .portable) }
    }
    if !Int8Path.vnni512.isSupported { #expect(!Int8Path.vnni512.use()) }
  }

  /// A depth past the exact-accumulation limit is refused before anything is read.
  @Test func refusesTooDeep() {
    var y: Float = 7
    let none = UnsafePointer<UInt8>(bitPattern: 64)!
    let ok = Kernels.linearInt8(path: .portable, m: 1, n: 1, k: Kernels.int8MaxK + 1, codes: none, ldq: 0,
                                rowScales: UnsafePointer(bitPattern: 64)!, rowZeros: UnsafePointer(bitPattern: 64)!,
                                packedWeight: UnsafePointer(bitPattern: 64)!, columnScales: UnsafePointer(bitPattern: 64)!,
                                columnSums: UnsafePointer(bitPattern: 64)!, bias: nil, y: &y, ldy: 1, columns: 0..<1, epilogue: [])
    #expect(!ok && y == 7)
  }
}
