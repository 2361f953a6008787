import Foundation
import Testing
@testable import EAMCompiler
import EAMFormat
import EAMKernels
import EAMRuntime

/// int4 with GPTQ's error feedback (`--rounding gptq`): the factorisation it rests on, its
/// agreement with round-to-nearest where there is nothing to feed back, its gain where there is,
/// and the compile end to end on a fixture model and real images.
@Suite struct GPTQRounding {
  /// A deterministic pseudo-random stream in [−1, 1).
  struct Stream {
    var state: UInt64
    mutating func next() -> Double {
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return Double(state >> 11) / Double(1 << 52) - 1
    }
  }

  /// `rows` inputs of depth `k` whose coordinates are strongly correlated (a few shared factors),
  /// as a layer's inputs are; and their Σ x·xᵀ.
  static func correlatedInputs(rows: Int, k: Int, seed: UInt64) -> (x: [Double], gram: [Double]) {
    var s = Stream(state: seed)
    let factors = 4
    let mix = (0..<(factors * k)).map { _ in s.next() }
    var x = [Double](repeating: 0, count: rows * k)
    for r in 0..<rows {
      let f = (0..<factors).map { _ in s.next() }
      for c in 0..<k {
        var v = 0.1 * s.next()
        for j in 0..<factors { v += f[j] * mix[j * k + c] }
        x[r * k + c] = v
      }
    }
    var gram = [Double](repeating: 0, count: k * k)
    for r in 0..<rows { for i in 0..<k { for j in 0..<k { gram[i * k + j] += x[r * k + i] * x[r * k + j] } } }
    return (x, gram)
  }

  static func outputError(_ w: [Float], _ q: [Float], x: [Double], n: Int, k: Int) -> Double {
    let rows = x.count / k
    var e = 0.0
    for r in 0..<rows {
      for o in 0..<n {
        var d = 0.0
        for c in 0..<k { d += (Double(w[o * k + c]) - Double(q[o * k + c])) * x[r * k + c] }
        e += d * d
      }
    }
    return e
  }

  @Test func theFactorIsTheCholeskyFactorOfTheInverse() throws {
    let k = 24
    let (_, h) = Self.correlatedInputs(rows: 200, k: k, seed: 3)
    var damped = h
    for i in 0..<k { damped[i * k + i] += 0.01 }
    let u = try #require(GPTQ.upperCholeskyOfInverse(damped, k))
    // Upper triangular, positive diagonal, and Uᵀ·U·H = I.
    for i in 0..<k { #expect(u[i * k + i] > 0); for j in 0..<i { #expect(u[i * k + j] == 0) } }
    var worst = 0.0
    for i in 0..<k {
      for j in 0..<k {
        var v = 0.0
        for p in 0..<k {
          var inv = 0.0
          for q in 0..<k { inv += u[q * k + i] * u[q * k + p] }
          v += inv * damped[p * k + j]
        }
        worst = max(worst, abs(v - (i == j ? 1 : 0)))
      }
    }
    #expect(worst < 1e-8, "\(worst)")
    // Not positive definite: refused, not factorised.
    var bad = damped
    bad[0] = -1
    #expect(GPTQ.upperCholeskyOfInverse(bad, k) == nil)
  }

  /// With uncorrelated inputs (H diagonal) there is nothing to feed back: GPTQ's codes are the
  /// clipped round-to-nearest codes, bit for bit.
  @Test func aDiagonalHessianGivesRoundToNearest() throws {
    let n = 20, k = 70, group = 32
    var s = Stream(state: 11)
    let w = (0..<(n * k)).map { _ in Float(s.next() * 0.2) }
    let h = (0..<(k * k)).map { i in i / k == i % k ? 1 + Double(i / k % 5) : 0 }
    let rounded = try #require(GPTQ.int4(w, n: n, k: k, group: group, hessian: h))
    let gptq = try WeightPacking.packInt4(weight: rounded.values, n: n, k: k, group: group, scales: rounded.scales)
    let nearest = try WeightPacking.packInt4(weight: w, n: n, k: k, group: group,
                                             scales: WeightQuantization.nearestInt4(w, n: n, k: k, group: group).scales)
    #expect(gptq.codes == nearest.codes && gptq.scales == nearest.scales)
    // The packed values are the rounded values exactly.
    #expect(WeightPacking.unpackInt4(codes: gptq.codes, scales: gptq.scales, n: n, k: k, group: group) == rounded.values)
  }

  /// With correlated inputs, the layer's output error on those inputs drops well below
  /// round-to-nearest's.
  @Test func errorFeedbackLowersTheOutputError() throws {
    let n = 16, k = 64, group = 32
    let (x, h) = Self.correlatedInputs(rows: 300, k: k, seed: 5)
    var s = Stream(state: 7)
    let w = (0..<(n * k)).map { _ in Float(s.next() * 0.1) }
    let rounded = try #require(GPTQ.int4(w, n: n, k: k, group: group, hessian: h))
    let packed = try WeightPacking.packInt4(weight: rounded.values, n: n, k: k, group: group, scales: rounded.scales)
    let q = WeightPacking.unpackInt4(codes: packed.codes, scales: packed.scales, n: n, k: k, group: group)
    let nearest = try WeightPacking.packInt4(weight: w, n: n, k: k, group: group,
                                             scales: WeightQuantization.nearestInt4(w, n: n, k: k, group: group).scales)
    let qn = WeightPacking.unpackInt4(codes: nearest.codes, scales: nearest.scales, n: n, k: k, group: group)
    let eg = Self.outputError(w, q, x: x, n: n, k: k), en = Self.outputError(w, qn, x: x, n: n, k: k)
    #expect(eg < 0.5 * en, "GPTQ \(eg), nearest \(en)")
  }

  /// The compile end to end: `--weights int4 --calib` rounds with GPTQ (recorded in the
  /// manifest), lands closer to the float artifact than round-to-nearest on the calibration
  /// images it rounded against, and gives the same bytes with one thread or two.
  @Test(arguments: ["dinov2_small", "swin"])
  func theCompileRoundsAgainstTheCalibrationImages(family: String) throws {
    let fixture = try #require(CompiledFixture.artifacts.first { $0.name.hasPrefix(family) && $0.weights == "f32" && $0.sparsity == nil })
    let images = try ImageFolder.list(Paths.repository("examples/images/calib"))
    func compile(_ rounding: WeightQuantization.Int4Rounding, threads: Int, name: String) throws -> String {
      var o = try fixture.options()
      o.precision = .int4
      o.quantization.keepFloat = []
      o.quantization.rounding = rounding
      o.calibrationImages = images
      o.threads = threads
      let path = Paths.temporary(name)
      _ = try Compiler.compile(Paths.repository(fixture.checkpoint), to: path, options: o)
      return path
    }
    let gptq = try compile(.gptq, threads: 2, name: "\(family).gptq.int4.eam")
    let again = try compile(.gptq, threads: 1, name: "\(family).gptq1.int4.eam")
    let nearest = try compile(.nearest, threads: 2, name: "\(family).nearest.int4.eam")
    #expect(try Data(contentsOf: URL(fileURLWithPath: gptq)) == Data(contentsOf: URL(fileURLWithPath: again)))
    let args = try Artifact(path: gptq).manifest.compile.arguments, nearestArgs = try Artifact(path: nearest).manifest.compile.arguments
    #expect(args.contains("--rounding=gptq") && !nearestArgs.contains { $0.hasPrefix("--rounding") })

    let float = try Model(path: Paths.runtime.appendingPathComponent(fixture.artifact!).path)
    let x = try ImageInput.batch(paths: images, preprocessing: float.manifest.preprocessing)
    let reference = try float.run(x, batch: images.count)
    func meanCosine(_ path: String) throws -> Double {
      let y = try Model(path: path).run(x, batch: images.count)
      let c = QuantizedWeights.cosines(y, reference, width: float.outputWidth)
      return c.reduce(0, +) / Double(c.count)
    }
    let cg = try meanCosine(gptq), cn = try meanCosine(nearest)
    #expect(1 - cg < 0.8 * (1 - cn), "GPTQ \(cg), nearest \(cn)")
  }
}
