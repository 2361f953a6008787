import Testing
import EAMKernels

struct Int4Case: CustomTestStringConvertible, Sendable {
  let shape: WideShape
  let group: Int
  var testDescription: String { "\(shape.testDescription) group\(group)" }
}

/// The wide shapes, with the default group, one that does not divide k and a single-k group.
let int4Cases: [Int4Case] = wideShapes.filter { $0.m != 197 }.flatMap { s in [32, 7].map { Int4Case(shape: s, group: $0) } }
  + [Int4Case(shape: WideShape(m: 9, n: 20, k: 64), group: 1), Int4Case(shape: WideShape(m: 9, n: 20, k: 64), group: 100)]

@Suite struct Int4Weights {
  /// Scales, codes and the nibble layout are the documented ones.
  @Test(arguments: [32, 5])
  func layoutMatchesTheDefinition(group: Int) throws {
    let n = 21, k = 70, groups = (k + group - 1) / group
    var w = values(n * k, seed: 70).map { $0 * 3 }
    for j in 0..<k { w[4 * k + j] = 0 }  // a zero column: scale 0, codes 0
    let p = try WeightPacking.packInt4(weight: w, n: n, k: k, group: group)
    let np = (n + 15) / 16 * 16
    #expect(p.codes.count == np * k / 2 && p.scales.count == np * groups)
    var failures = 0
    for c in 0..<np {
      for g in 0..<groups {
        let ks = (g * group)..<min(k, g * group + group)
        let amax = c < n ? ks.map { abs(w[c * k + $0]) }.max()! : 0
        let s = Float16(amax / 7)
        if p.scales[((c / 16) * groups + g) * 16 + c % 16] != s.bitPattern { failures += 1 }
        for j in ks {
          let q = c < n && s > 0 ? Int(Swift.max(-7, Swift.min(7, (w[c * k + j] / Float(s)).rounded(.toNearestOrEven)))) : 0
          let byte = p.codes[((c / 16) * k + j) * 8 + (c % 16) % 8]
          if Int((c % 16 >= 8 ? byte >> 4 : byte) & 15) != q + 8 { failures += 1 }
        }
      }
    }
    #expect(failures == 0)
    // Dequantized values within half a step of the weights.
    let back = WeightPacking.unpackInt4(codes: p.codes, scales: p.scales, n: n, k: k, group: group)
    for c in 0..<n {
      for j in 0..<k {
        let s = Float(Float16(bitPattern: p.scales[((c / 16) * groups + j / group) * 16 + c % 16]))
        #expect(abs(back[c * k + j] - w[c * k + j]) <= s * 0.5 + abs(w[c * k + j]) * 1e-6)
      }
    }
  }

  @Test func packingRejectsWhatItCannotHold() {
    for bad: Float in [.nan, -.infinity, 1e6] {
      var w = values(3 * 40, seed: 71)
      w[45] = bad
      do {
        _ = try WeightPacking.packInt4(weight: w, n: 3, k: 40)
        Issue.record("\(bad) accepted")
      } catch { #expect(error.n == 1 && error.k == 5) }
    }
  }
}

@Suite struct Int4Linear {
  /// For every variant and epilogue: exactly the f32 GEMM of that variant on the dequantized weight.
  @Test(arguments: int4Cases)
  func bitIdenticalToF32OnDequantizedWeights(c: Int4Case) throws {
    let (m, n, k) = (c.shape.m, c.shape.n, c.shape.k)
    let x = values(m * k, seed: 72), bias = values(n, seed: 74), initial = values(m * n, seed: 75)
    let p = try WeightPacking.packInt4(weight: values(n * k, seed: 73), n: n, k: k, group: c.group)
    var packed = [Float](repeating: 0, count: Kernels.packedCount(n: n, k: k))
    Kernels.pack(WeightPacking.unpackInt4(codes: p.codes, scales: p.scales, n: n, k: k, group: c.group), ldw: k, n: n, k: k,
                 into: &packed)
    forEachVariant { v in
      for epilogue in allEpilogues {
        var expected = initial, got = initial
        Kernels.linear(m: m, n: n, k: k, x: x, ldx: k, packedWeight: packed, bias: bias, y: &expected, ldy: n, columns: 0..<n,
                       epilogue: epilogue)
        #expect(Kernels.linearInt4(m: m, n: n, k: k, group: c.group, x: x, ldx: k, codes: p.codes, scales: p.scales, bias: bias,
                                   y: &got, ldy: n, columns: 0..<n, epilogue: epilogue))
        #expect(bits(got) == bits(expected), "\(v.name) epilogue \(epilogue.rawValue)")
      }
    }
  }

  /// The SIMD variants give the portable one's bits (deep k, groups of 32, every epilogue).
  @Test func vectorVariantsAgreeWithPortable() throws {
    let m = 20, n = 50, k = 1536, group = 32
    let x = values(m * k, seed: 76), bias = values(n, seed: 78), initial = values(m * n, seed: 79)
    let p = try WeightPacking.packInt4(weight: values(n * k, seed: 77), n: n, k: k, group: group)
    for e in allEpilogues {
      expectSameBits("int4 epilogue \(e.rawValue)") {
        var y = initial
        Kernels.linearInt4(m: m, n: n, k: k, group: group, x: x, ldx: k, codes: p.codes, scales: p.scales, bias: bias, y: &y,
                           ldy: n, columns: 0..<n, epilogue: e)
        return y
      }
    }
  }

  @Test func refusesAGroupOfZero() {
    var y: Float = 3
    #expect(!Kernels.linearInt4(m: 1, n: 1, k: 1, group: 0, x: [1], ldx: 1, codes: [0x88, 0, 0, 0, 0, 0, 0, 0], scales: [0],
                                bias: nil, y: &y, ldy: 1, columns: 0..<1, epilogue: []))
    #expect(y == 3)
  }
}
