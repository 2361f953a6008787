import EAMFormat
import EAMKernels

/// Sees every attention map the forward pass computes (after softmax): the calibration hook.
/// Called concurrently from the pool's threads, for different (image, head) pairs.
/// Swin: one call per window with its `w² × w²` map (`tokens` = w²); the windows of one
/// (block, image, head) come in sequence, in window order (row-major over the shifted grid),
/// from one thread. `values`: the head's V rows (`tokens` rows, `valueStride` apart), which the map
/// is about to weigh (what a change of the map moves the output by).
public typealias AttentionObserver = (_ block: Int, _ image: Int, _ head: Int, _ map: UnsafePointer<Float>, _ tokens: Int,
                                      _ values: UnsafePointer<Float>, _ valueStride: Int) -> Void

/// Sees the residual stream after every block: `rows` = batch × tokens rows of `dim` values, image
/// after image. Called from the calling thread between blocks (per-layer error of a compressed
/// model against the float one).
public typealias BlockObserver = (_ block: Int, _ hidden: UnsafePointer<Float>, _ rows: Int, _ dim: Int) -> Void

/// Sees the residual stream inside every block of the ViT family: before its attention half
/// (`beforeMLP` false) and before its MLP half (true), so that each half's output is the
/// difference of consecutive streams (`eamc analyze`). Same threading as `BlockObserver`.
public typealias SublayerObserver = (_ block: Int, _ beforeMLP: Bool, _ hidden: UnsafePointer<Float>, _ rows: Int, _ dim: Int) -> Void

/// A linear layer, as `LinearInputObserver` names it.
public enum ObservedLinear: Int, Sendable {
  /// The patch embedding (block −1): its input rows are the flattened patches of one image.
  case patchEmbed
  case qkv, proj, fc1, fc2
}

/// Sees the input of the linear layers of every block (and of the patch embedding): `rows` rows of
/// `k` values (`ld` apart), just before the layer multiplies them (data-aware weight rounding).
/// Block layers see batch × tokens rows (Swin: in window order); the patch embedding one image's
/// patches at a time. Not shown: a factorised fc2 (compact FFN), Swin's patch merging, the head.
/// Same threading as `BlockObserver`.
public typealias LinearInputObserver = (_ block: Int, _ layer: ObservedLinear, _ input: UnsafePointer<Float>, _ rows: Int,
                                        _ k: Int, _ ld: Int) -> Void

/// One head's attention over `n` tokens, the core every family's attention is made of:
/// `out = softmax(scale · Q·Kᵀ (+ bias) (+ mask)) · V`, where EAM's frozen entries keep their
/// calibrated values and the free ones share the mass left.
///
/// Q, K, V are column slices of the qkv projection's output (leading dimension `ld`), `out` a
/// slice of a `[n][ldo]` buffer; `scores` is `n × n` scratch. A whole-frozen head computes only
/// P·V with its constant map; otherwise rows whose entries are all frozen skip their dot
/// products (`FrozenHead.scoreRuns`) and the softmax skips the exponentials of whole vectors of
/// frozen entries.
struct HeadAttention {
  let tokens: Int
  let headDim: Int
  let scale: Float
  /// Additive `n × n` terms before the softmax: Swin's relative position bias and shift mask.
  var bias: UnsafePointer<Float>? = nil
  var mask: UnsafePointer<Float>? = nil
  var frozen: FrozenHead? = nil
  /// The fused kernel's scratch: set, the head runs `Kernels.attention` (no T×T map) unless an
  /// observer needs the map, it is kept (`keep`: hallucinated heads' sources) or the head is
  /// frozen whole.
  var fusedScratch: UnsafeMutablePointer<Float>? = nil

  func run(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
           out: UnsafeMutablePointer<Float>, ldo: Int, scores: UnsafeMutablePointer<Float>,
           marks: PhaseMarks, observe: ((UnsafePointer<Float>) -> Void)?, keep: UnsafeMutablePointer<Float>? = nil)
  {
    let n = tokens, hd = headDim
    if let frozen, frozen.whole {
      keep?.update(from: frozen.values.pointer, count: n * n)
      Kernels.gemmNN(m: n, n: hd, k: n, a: frozen.values.pointer, lda: n, b: v, ldb: ld, c: out, ldc: ldo)
      marks.lap(.output)
      return
    }
    if let scratch = fusedScratch, observe == nil, keep == nil, bias == nil, mask == nil {
      if let frozen {
        frozen.withFused { f in
          Kernels.attention(tokens: n, headDim: hd, scale: scale, q: q, ldq: ld, k: k, ldk: ld, v: v, ldv: ld, out: out,
                            ldo: ldo, frozen: f, scratch: scratch)
        }
      } else {
        Kernels.attention(tokens: n, headDim: hd, scale: scale, q: q, ldq: ld, k: k, ldk: ld, v: v, ldv: ld, out: out,
                          ldo: ldo, scratch: scratch)
      }
      marks.lap(.output)  // the fused kernel's whole time
      return
    }
    if let frozen {
      frozen.scoreRuns.withUnsafeBufferPointer { runs in
        Kernels.gemmNT(runs: runs.baseAddress!, count: runs.count / 2, n: n, k: hd, alpha: scale, a: q, lda: ld,
                       b: k, ldb: ld, c: scores, ldc: n)
      }
    } else {
      Kernels.gemmNT(m: n, n: n, k: hd, alpha: scale, a: q, lda: ld, b: k, ldb: ld, c: scores, ldc: n)
    }
    if let bias { Kernels.add(scores, bias, count: n * n) }
    if let mask { Kernels.add(scores, mask, count: n * n) }
    marks.lap(.scores)
    if let frozen {
      frozen.rowBits(tokens: n).withUnsafeBufferPointer { bits in
        frozen.rowCodes.withUnsafeBufferPointer { codes in
          Kernels.softmaxFrozen(scores, ld: n, rows: n, cols: n, frozen: bits.baseAddress!, frozenLD: frozen.maskWords,
                                codes: codes.baseAddress, codesLD: n, codeScale: frozen.codeScale,
                                freeMass: frozen.freeMass.pointer)
        }
      }
      if frozen.rowCodes.isEmpty { frozen.withFused { Kernels.putFrozenValues(tokens: n, frozen: $0, into: scores, ld: n) } }
    } else {
      Kernels.softmax(scores, ld: n, rows: n, cols: n)
    }
    marks.lap(.softmax)
    keep?.update(from: scores, count: n * n)
    if let observe {
      observe(scores)
      marks.restart()
    }
    Kernels.gemmNN(m: n, n: hd, k: n, a: scores, lda: n, b: v, ldb: ld, c: out, ldc: ldo)
    marks.lap(.output)
  }
}
