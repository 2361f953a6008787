/// Activation buffers for a batch size, allocated once and reused by every run.
final class Arena {
  let batch: Int
  let x: AlignedBuffer        // residual stream [B·T, D]
  let normed: AlignedBuffer   // LayerNorm output, then attention output [B·T, D]
  let wide: AlignedBuffer     // qkv [B·T, ≤ 3D] or MLP hidden [B·T, H]
  let patches: AlignedBuffer  // im2col of one image [P, C·p·p]
  let scores: [AlignedBuffer] // one T×T attention map per thread
  let pooled: AlignedBuffer   // [B, D]
  let logits: AlignedBuffer   // [B, classes] (distilled: second head)

  init(plan: ViTPlan, batch: Int, threads: Int) {
    self.batch = batch
    let rows = batch * plan.tokens
    let a = plan.architecture
    x = AlignedBuffer(count: rows * plan.dim)
    normed = AlignedBuffer(count: rows * plan.dim)
    wide = AlignedBuffer(count: rows * max(3 * plan.dim, plan.maxHidden))
    patches = AlignedBuffer(count: plan.patchTokens * a.inChannels * a.patchSize * a.patchSize)
    scores = (0..<threads).map { _ in AlignedBuffer(count: plan.tokens * plan.tokens) }
    pooled = AlignedBuffer(count: batch * plan.dim)
    logits = AlignedBuffer(count: batch * max(plan.outputWidth, 1))
  }

  /// Bytes held.
  var bytes: Int {
    4 * (x.count + normed.count + wide.count + patches.count + scores.reduce(0) { $0 + $1.count } + pooled.count + logits.count)
  }
}
