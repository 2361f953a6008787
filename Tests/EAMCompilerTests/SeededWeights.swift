// Seeded full-size weights: Swift port of scripts/seeded_weights.py (rule: SEEDED_WEIGHTS.md).
// Plain Swift, no Foundation (scripts/check_seeded_swift_port.py compiles this file alone).
// Checked bit-exact against the Python generator (first4_bits / bits_sum_mod2_64 in
// NAME.weights-check.json, and test-vectors.json) for all 632 tensors of the 4 models, -O and -Onone.
// Uses Double.squareRoot(): without Foundation/Glibc on Linux, link with -lm when built standalone.

/// FNV-1a 64-bit over the UTF-8 bytes of `s`.
func fnv1a64(_ s: String) -> UInt64 {
  var h: UInt64 = 0xCBF2_9CE4_8422_2325
  for b in s.utf8 {
    h ^= UInt64(b)
    h = h &* 0x0000_0100_0000_01B3
  }
  return h
}

/// splitmix64 (Steele, Lea, Flood; Vigna's reference): advance state by the golden gamma, then mix.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state = state &+ 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// (center, scale) for a state-dict key, first match wins. `scale` is computed in Double and
/// rounded once to Float, exactly as numpy's `np.float32(math.sqrt(3.0 / fan_in))`.
func seededCenterScale(key: String, shape: [Int]) -> (center: Float, scale: Float) {
  let last: Substring = key.split(separator: ".", omittingEmptySubsequences: false).last ?? Substring(key)
  switch last {
  case "relative_position_bias_table": return (0, 0.1)
  case "pos_embed", "cls_token", "dist_token", "reg_token": return (0, 0.1)
  case "gamma", "gamma_1", "gamma_2": return (0.25, 0.2)
  case "bias": return (0, 0.02)
  default: break
  }
  if last == "weight" && shape.count == 1 { return (1, 0.1) }
  if shape.count >= 2 {
    let fanIn = shape.dropFirst().reduce(1, *)
    return (0, Float((3.0 / Double(fanIn)).squareRoot()))
  }
  return (0, 0.1)
}

/// All values of one tensor, row-major (C order), as float32.
/// value = center + scale * (2u - 1), u = (x >> 40) * 2^-24, x from splitmix64(seed ^ fnv1a64(key)).
/// Two separate float32 roundings (multiply, then add); never fused.
func seededValue(key: String, shape: [Int], seed: UInt64 = 1) -> [Float] {
  let n = shape.reduce(1, *)
  let (center, scale) = seededCenterScale(key: key, shape: shape)
  var rng = SplitMix64(seed: seed ^ fnv1a64(key))
  var out = [Float](repeating: 0, count: n)
  for i in 0..<n {
    let m = Float(rng.next() >> 40)          // integer < 2^24: exact
    let t = m * 0x1p-23 - 1                  // 2u - 1, exact
    let p = scale * t                        // rounding 1
    out[i] = withoutFMA(center, p)           // rounding 2
  }
  return out
}

@inline(never) private func withoutFMA(_ a: Float, _ b: Float) -> Float { a + b }

/// Order-independent exact checksum used by NAME.weights-check.json ("bits_sum_mod2_64"):
/// sum of the float32 bit patterns as UInt64, wrapping.
func seededBitsSum(_ v: [Float]) -> UInt64 {
  var s: UInt64 = 0
  for x in v { s = s &+ UInt64(x.bitPattern) }
  return s
}
