import Testing
import EAMKernels

/// Every combination of the epilogue flags.
let allEpilogues: [Epilogue] = (0..<8).map { Epilogue(rawValue: Int32($0)) }

/// Bit patterns, so that two outputs compare equal exactly when they are the same floats.
func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

struct WideShape: CustomTestStringConvertible, Sendable {
  let m, n, k: Int
  var testDescription: String { "m\(m) n\(n) k\(k)" }
}

/// Odd row counts (one row, part of a tile, DINOv2's 197/257 tokens), column counts that are not
/// multiples of the panel, depths of a patch embedding (3·14·14), a block and an MLP.
let wideShapes: [WideShape] = [1, 7, 197, 257].flatMap { m in
  [(5, 588), (100, 384), (389, 1536), (37, 3)].map { WideShape(m: m, n: $0.0, k: $0.1) }
}

@Suite struct Binary16 {
  /// Widening matches Swift's Float16 for every one of the 65536 values (NaNs: stay NaN).
  @Test func wideningMatchesFloat16() {
    var failures = 0
    for h in 0...UInt16.max {
      let expected = Float(Float16(bitPattern: h)), got = Kernels.halfToFloat(h)
      if expected.isNaN ? !got.isNaN : got.bitPattern != expected.bitPattern { failures += 1 }
    }
    #expect(failures == 0)
  }

  /// Narrowing matches Swift's Float16(_:) (nearest, ties to even) on values across every
  /// exponent, exact halfway points, the subnormal range and the overflow threshold.
  @Test func narrowingMatchesFloat16() {
    var s: UInt64 = 99
    var inputs: [Float] = [0, -0, 65504, 65519.996, 65520, -65520, .infinity, -.infinity, .nan, 5.9604645e-8, 2.9802322e-8,
                           2.9802326e-8, 6.1035156e-5, 6.1035152e-5, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
    for _ in 0..<200_000 {
      s = s &* 6364136223846793005 &+ 1442695040888963407
      inputs.append(Float(bitPattern: UInt32(truncatingIfNeeded: s >> 32)))
    }
    for h in stride(from: UInt16(0), to: 0x7C00, by: 7) {  // halfway between h and h + 1, and either side of it
      let mid = (Double(Float16(bitPattern: h)) + Double(Float16(bitPattern: h + 1))) / 2
      let f = Float(mid)
      inputs += [f, f.nextUp, f.nextDown, -f]
    }
    var failures = 0
    for f in inputs {
      let expected = Float16(f).bitPattern, got = Kernels.floatToHalf(f)
      if f.isNaN ? (got & 0x7C00 != 0x7C00 || got & 0x3FF == 0) : got != expected { failures += 1 }
    }
    #expect(failures == 0)
  }

  @Test func packingRejectsWhatBinary16CannotHold() {
    for bad: Float in [.nan, .infinity, 65520, -1e6] {
      var w = values(4 * 3, seed: 1)
      w[7] = bad
      #expect(throws: WeightPackingError.self) { _ = try WeightPacking.packF16(weight: w, n: 4, k: 3) }
      do { _ = try WeightPacking.packF16(weight: w, n: 4, k: 3) } catch { #expect(error.n == 2 && error.k == 1) }
    }
    #expect((try? WeightPacking.packF16(weight: [65504, -65519], n: 1, k: 2)) != nil)
  }
}

@Suite struct F16Linear {
  /// For every variant and epilogue: the f16 GEMM gives exactly the numbers of the f32 GEMM run
  /// on the same weights widened to float beforehand.
  @Test(arguments: wideShapes)
  func bitIdenticalToF32OnWidenedWeights(c: WideShape) throws {
    let x = values(c.m * c.k, seed: 30), bias = values(c.n, seed: 32), initial = values(c.m * c.n, seed: 33)
    let w = values(c.n * c.k, seed: 31).map { $0 * 0.25 }
    let half = try WeightPacking.packF16(weight: w, n: c.n, k: c.k)
    let widened = w.map { Kernels.halfToFloat(Kernels.floatToHalf($0)) }
    var packed = [Float](repeating: 0, count: Kernels.packedCount(n: c.n, k: c.k))
    Kernels.pack(widened, ldw: c.k, n: c.n, k: c.k, into: &packed)
    forEachVariant { v in
      for epilogue in allEpilogues {
        var expected = initial, got = initial
        Kernels.linear(m: c.m, n: c.n, k: c.k, x: x, ldx: c.k, packedWeight: packed, bias: bias, y: &expected, ldy: c.n,
                       columns: 0..<c.n, epilogue: epilogue)
        Kernels.linearF16(m: c.m, n: c.n, k: c.k, x: x, ldx: c.k, packedWeight: half, bias: bias, y: &got, ldy: c.n,
                          columns: 0..<c.n, epilogue: epilogue)
        #expect(bits(got) == bits(expected), "\(v.name) epilogue \(epilogue.rawValue)")
      }
    }
  }

  /// Leading dimensions wider than the matrices, a column range starting past 0: elements
  /// outside the range and the padding are untouched, those inside match the f32 GEMM.
  @Test func stridesAndColumnRanges() throws {
    let m = 13, n = 70, k = 300, ldx = 310, ldy = 75
    let x = values(m * ldx, seed: 34), w = values(n * k, seed: 35), bias = values(n, seed: 36), initial = values(m * ldy, seed: 37)
    let half = try WeightPacking.packF16(weight: w, n: n, k: k)
    var packed = [Float](repeating: 0, count: Kernels.packedCount(n: n, k: k))
    Kernels.pack(w.map { Kernels.halfToFloat(Kernels.floatToHalf($0)) }, ldw: k, n: n, k: k, into: &packed)
    forEachVariant { v in
      var expected = initial, got = initial
      Kernels.linear(m: m, n: n, k: k, x: x, ldx: ldx, packedWeight: packed, bias: bias, y: &expected, ldy: ldy,
                     columns: 16..<61, epilogue: [.bias, .gelu, .accumulate])
      Kernels.linearF16(m: m, n: n, k: k, x: x, ldx: ldx, packedWeight: half, bias: bias, y: &got, ldy: ldy,
                        columns: 16..<61, epilogue: [.bias, .gelu, .accumulate])
      #expect(bits(got) == bits(expected), "\(v.name)")
      var outside = 0
      for r in 0..<m { for j in 0..<ldy where !(16..<61).contains(j) && got[r * ldy + j] != initial[r * ldy + j] { outside += 1 } }
      #expect(outside == 0, "\(v.name)")
    }
  }
}
