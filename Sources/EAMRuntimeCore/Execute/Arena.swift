import EAMFormat
import EAMKernels
/// Activation buffers for a batch size, allocated once and reused by every run.
final class Arena {
  let batch: Int
  let x: AlignedBuffer        // residual stream [B·T, D]
  let normed: AlignedBuffer   // LayerNorm output, then attention output [B·T, D]
  let wide: AlignedBuffer     // qkv [B·T, ≤ 3D] or MLP hidden [B·T, H]
  let patches: AlignedBuffer  // im2col of one image [P, C·p·p]
  let scores: [AlignedBuffer] // one attention map per thread
  let pooled: AlignedBuffer   // [B, D]
  let logits: AlignedBuffer   // [B, classes] (distilled: second head)
  let fused: [AlignedBuffer]  // the fused attention kernel's scratch, one per thread (or none)
  let maps: AlignedBuffer     // one image's computed maps [heads, T, T] for hallucinated heads (or empty)
  let barrier = SpinBarrier() // where the threads of one parallel step meet (`BlocksByRows`)

  /// Buffers of the given sizes in floats (`scores`: per thread).
  init(batch: Int, residual: Int, wide: Int, patches: Int, scores: Int, threads: Int, pooled: Int, logits: Int,
       fused: Int = 0, maps: Int = 0) {
    self.batch = batch
    x = AlignedBuffer(count: residual)
    normed = AlignedBuffer(count: residual)
    self.wide = AlignedBuffer(count: wide)
    self.patches = AlignedBuffer(count: patches)
    self.scores = (0..<threads).map { _ in AlignedBuffer(count: scores) }
    self.pooled = AlignedBuffer(count: pooled)
    self.logits = AlignedBuffer(count: logits)
    self.fused = fused > 0 ? (0..<threads).map { _ in AlignedBuffer(count: fused) } : []
    self.maps = AlignedBuffer(count: maps)
  }

  convenience init(plan: ViTPlan, batch: Int, threads: Int) {
    let rows = batch * plan.tokens
    let a = plan.architecture
    self.init(batch: batch, residual: rows * plan.dim, wide: rows * max(3 * plan.dim, plan.maxHidden),
              patches: plan.patchTokens * a.inChannels * a.patchSize * a.patchSize,
              scores: plan.tokens * plan.tokens, threads: threads,
              pooled: batch * plan.dim, logits: batch * max(plan.outputWidth, 1), fused: plan.fusedScratch,
              maps: plan.hallucinationMaps)
  }

  /// Swin: `x` holds the residual stream of the widest stage, `normed` the LayerNorm output in
  /// window order (then the attention output, or the merged 2×2 neighbourhoods), `wide` qkv,
  /// the attention projection or the MLP hidden layer.
  convenience init(plan: SwinPlan, batch: Int, threads: Int) {
    let a = plan.architecture
    let grid = a.imageSize / a.patchSize
    self.init(batch: batch, residual: batch * plan.maxActivation, wide: batch * plan.maxWide,
              patches: grid * grid * a.inChannels * a.patchSize * a.patchSize,
              scores: plan.maxWindowTokens * plan.maxWindowTokens, threads: threads,
              pooled: batch * plan.finalDim, logits: batch * max(plan.outputWidth, 1))
  }

  /// Bytes held.
  var bytes: Int {
    4 * (x.count + normed.count + wide.count + patches.count + scores.reduce(0) { $0 + $1.count } + pooled.count + logits.count
         + fused.reduce(0) { $0 + $1.count } + maps.count)
  }
}
