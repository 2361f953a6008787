import Foundation
import Testing
import EAMKernels

/// Runs `compute` under the portable variant and under every other variant this CPU supports (on
/// this thread only) and expects the same bits from each.
func expectSameBits(_ what: String, _ compute: () -> [Float]) {
  let reference = bits(KernelVariant.scalar.withThreadVariant { compute() })
  for v in KernelVariant.allCases where v != .scalar && v.isSupported {
    let got = bits(v.withThreadVariant { compute() })
    let differ = got.count == reference.count ? got.indices.filter { got[$0] != reference[$0] } : []
    #expect(got.count == reference.count && differ.isEmpty,
            "\(v.name) \(what): \(differ.count) of \(reference.count) differ, first at \(differ.first ?? -1)")
  }
}

/// Inputs that reach the edges of the arithmetic: ordinary values, large ones (exp's clamps and
/// its range reduction over many powers of two), subnormals, signed zeros, a few −inf (masks)
/// when `infinities`.
func hardValues(_ n: Int, seed: UInt64, scale: Float = 30, infinities: Bool = false) -> [Float] {
  values(n, seed: seed).enumerated().map { i, x in
    switch i % 23 {
    case 3: return x * 1e-38  // subnormal or tiny
    case 7: return Float(bitPattern: UInt32(i % 1000) | (x < 0 ? 0x8000_0000 : 0))  // subnormal
    case 11: return i % 2 == 0 ? 0 : -0.0
    case 13: return x * 100
    case 17 where infinities: return -.infinity
    default: return x * scale
    }
  }
}

@Suite struct SameBitsOnEveryVariant {
  @Test func gelu() {
    for n in [1, 7, 8, 15, 16, 17, 33, 1000] {
      let x = hardValues(n, seed: UInt64(n), scale: 6)
      expectSameBits("gelu n \(n)") {
        var y = x
        Kernels.gelu(&y, count: n)
        return y
      }
    }
  }

  @Test func softmax() {
    for cols in [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 197, 257, 1370] {
      let rows = 5, ld = cols + 3
      var x = hardValues(rows * ld, seed: UInt64(cols), infinities: true)
      for j in 0..<cols { x[3 * ld + j] = -.infinity }  // a row of −inf only
      for j in 0..<cols { x[4 * ld + j] = Float(j) * -7 }  // exponents down to the clamp
      expectSameBits("softmax cols \(cols)") {
        var y = x
        Kernels.softmax(&y, ld: ld, rows: rows, cols: cols)
        return y
      }
    }
  }

  @Test func layerNorm() {
    for dim in [1, 2, 7, 8, 15, 16, 17, 33, 384, 385, 1024] {
      let rows = 4, ldx = dim + 2, ldy = dim + 5
      var x = hardValues(rows * ldx, seed: UInt64(dim), scale: 3)
      for j in 0..<dim { x[ldx + j] += 1000 }  // a large mean: the centred sum must cancel it
      let g = values(dim, seed: 91).map { 1 + $0 / 2 }, b = values(dim, seed: 92)
      expectSameBits("layerNorm dim \(dim)") {
        var y = [Float](repeating: 7, count: rows * ldy)
        Kernels.layerNorm(x: x, ldx: ldx, y: &y, ldy: ldy, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6)
        return y
      }
      expectSameBits("layerNorm in place dim \(dim)") {
        var y = x
        y.withUnsafeMutableBufferPointer {
          Kernels.layerNorm(x: $0.baseAddress!, ldx: ldx, y: $0.baseAddress!, ldy: ldx, rows: rows, dim: dim, gamma: g,
                            beta: b, eps: 1e-6)
        }
        return y
      }
    }
  }

  @Test(arguments: linearCases + [
    LinearCase(m: 7, n: 17, k: 1537, ldx: 1537, ldy: 17, epilogue: [.bias, .gelu]),
    LinearCase(m: 12, n: 47, k: 9, ldx: 9, ldy: 50, epilogue: [.gelu, .accumulate]),
  ])
  func linear(c: LinearCase) {
    let x = hardValues(c.m * c.ldx, seed: 1, scale: 2), w = values(c.n * c.k, seed: 2), bias = values(c.n, seed: 3)
    let initial = values(c.m * c.ldy, seed: 4)
    var packed = [Float](repeating: 0, count: Kernels.packedCount(n: c.n, k: c.k))
    Kernels.pack(w, ldw: c.k, n: c.n, k: c.k, into: &packed)
    for e in allEpilogues {
      expectSameBits("\(c.testDescription) epilogue \(e.rawValue)") {
        var y = initial
        Kernels.linear(m: c.m, n: c.n, k: c.k, x: x, ldx: c.ldx, packedWeight: packed, bias: bias, y: &y, ldy: c.ldy,
                       columns: 0..<c.n, epilogue: e)
        return y
      }
    }
  }

  /// The attention GEMMs of the unfused path, with K past their chunk of 512.
  @Test func attentionGEMMs() {
    for (m, n, k) in [(1, 1, 1), (17, 33, 64), (50, 70, 600), (257, 257, 64), (49, 49, 1100)] {
      let a = hardValues(m * k, seed: 5, scale: 2), b = values(n * k, seed: 6), bn = values(k * n, seed: 7)
      let c0 = values(m * n, seed: 8)
      expectSameBits("gemmNT \(m)×\(n)×\(k)") {
        var c = c0
        Kernels.gemmNT(m: m, n: n, k: k, alpha: 0.125, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
        return c
      }
      for accumulate in [false, true] {
        expectSameBits("gemmNN \(m)×\(n)×\(k) accumulate \(accumulate)") {
          var c = c0
          Kernels.gemmNN(m: m, n: n, k: k, a: a, lda: k, b: bn, ldb: n, c: &c, ldc: n, accumulate: accumulate)
          return c
        }
      }
    }
  }

  @Test func frozenSoftmax() {
    for t in [1, 7, 16, 17, 50, 257] {
      for pattern in FrozenPattern.allCases {
        let maps = pattern.maps(t: t, seed: 3)
        let x = hardValues(t * t, seed: UInt64(t), scale: 10, infinities: true)
        expectSameBits("frozen softmax T \(t) \(pattern)") {
          var y = x
          Kernels.softmaxFrozen(&y, ld: t, rows: t, cols: t, frozen: maps.rowBits, frozenLD: maps.rowWords,
                                codes: maps.code, codesLD: t, codeScale: maps.scale, freeMass: maps.freeMass)
          return y
        }
      }
    }
  }

  /// The fused attention: head dims on the vector paths (multiples of 8) and off them, one key
  /// block and several (online softmax), a Swin-like bias with −100 and −inf entries, frozen maps,
  /// heads split by query rows.
  @Test(arguments: [1, 7, 17, 50, 257])
  func fusedAttention(t: Int) {
    for hd in [8, 12, 16, 24, 32, 40, 64] {
      for pattern: FrozenPattern? in [nil, .scattered30, .tiles, .rows, .fullMass, .head] {
        for keyBlock in [0, 16] {
          var head = AttentionHead(t: t, hd: hd, seed: UInt64(7 * t + hd))
          if hd % 16 == 8 {
            head.addBias(seed: 5)
            head.bias = head.bias!.enumerated().map { $0 % 29 == 5 ? -.infinity : $1 }
          }
          let maps = pattern?.maps(t: t, seed: 13)
          let splits = t > 32 ? [16, 48] : []
          expectSameBits("attention T \(t) hd \(hd) \(pattern.map { "\($0)" } ?? "no map") kb \(keyBlock)") {
            EAMKernelsTests.fusedAttention(head, frozen: maps, keyBlock: keyBlock, splits: splits)
          }
        }
      }
    }
  }

  @Test(arguments: wideShapes.filter { $0.m < 200 })
  func f16AndInt4Linear(c: WideShape) throws {
    let x = hardValues(c.m * c.k, seed: 21, scale: 2), bias = values(c.n, seed: 22), initial = values(c.m * c.n, seed: 23)
    let weight = values(c.n * c.k, seed: 24)
    let f16 = try WeightPacking.packF16(weight: weight, n: c.n, k: c.k)
    let int4 = try WeightPacking.packInt4(weight: weight, n: c.n, k: c.k)
    for e in allEpilogues {
      expectSameBits("f16 \(c.testDescription) epilogue \(e.rawValue)") {
        var y = initial
        Kernels.linearF16(m: c.m, n: c.n, k: c.k, x: x, ldx: c.k, packedWeight: f16, bias: bias, y: &y, ldy: c.n,
                          columns: 0..<c.n, epilogue: e)
        return y
      }
      expectSameBits("int4 \(c.testDescription) epilogue \(e.rawValue)") {
        var y = initial
        Kernels.linearInt4(m: c.m, n: c.n, k: c.k, group: Kernels.int4DefaultGroup, x: x, ldx: c.k, codes: int4.codes,
                           scales: int4.scales, bias: bias, y: &y, ldy: c.n, columns: 0..<c.n, epilogue: e)
        return y
      }
    }
  }

  /// The int8 GEMM on the path each variant picks (its float epilogue, GELU included), on the
  /// same 8-bit codes.
  @Test func int8Linear() throws {
    let m = 13, n = 37, k = 389
    let x = values(m * k, seed: 31), bias = values(n, seed: 32), initial = values(m * n, seed: 33)
    let w = try WeightPacking.packInt8(weight: values(n * k, seed: 34), n: n, k: k)
    let kp = Kernels.int8PaddedK(k)
    var codes = [UInt8](repeating: 0, count: m * kp), scales = [Float](repeating: 0, count: m)
    var zeros = [Int32](repeating: 0, count: m)
    Kernels.quantizeRows(x: x, ldx: k, rows: m, k: k, codeMax: 255, codes: &codes, ldq: kp, scales: &scales, zeros: &zeros)
    for e in allEpilogues {
      expectSameBits("int8 epilogue \(e.rawValue)") {
        var y = initial
        Kernels.linearInt8(path: nil, m: m, n: n, k: k, codes: codes, ldq: kp,
                           rowScales: scales, rowZeros: zeros, packedWeight: w.codes, columnScales: w.scales,
                           columnSums: w.columnSums, bias: bias, y: &y, ldy: n, columns: 0..<n, epilogue: e)
        return y
      }
    }
  }
}
