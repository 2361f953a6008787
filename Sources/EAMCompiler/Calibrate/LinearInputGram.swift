import EAMKernels
import EAMRuntime

/// Σ x·xᵀ over calibration tokens of the input x of every linear layer of every ViT block: the
/// Hessian of the layer's squared output error, which GPTQ's error feedback rounds against.
/// Gathered with the runtime's linear-input observer on the model as compiled (float weights).
public struct LinearInputGram: Equatable, Sendable {
  /// Per layer (`blocks.3.mlp.fc2`): the `k × k` sums, row-major, and k.
  public var products: [String: [Double]] = [:]
  public var depth: [String: Int] = [:]
  /// Images summed over.
  public var images = 0

  /// The sums of layer `prefix`, if it was seen with depth `k`.
  public func hessian(_ prefix: String, k: Int) -> [Double]? {
    depth[prefix] == k ? products[prefix] : nil
  }

  /// The section prefix of layer `layer` of block `block` (−1 for the patch embedding) of
  /// `model`: ViT `blocks.3.mlp.fc2`, Swin `layers.1.blocks.0.mlp.fc2`.
  static func namer(for model: ModelDescription) -> @Sendable (Int, ObservedLinear) -> String {
    // Swin: the stage and block within it of each global block index.
    var local: [(stage: Int, block: Int)] = []
    if model.architecture.family == .swin {
      for (s, depth) in model.architecture.stageDepths.enumerated() { for i in 0..<depth { local.append((s, i)) } }
    }
    let swin = local
    return { block, layer in
      let suffix: String
      switch layer {
      case .patchEmbed: return "patch_embed.proj"
      case .qkv: suffix = "attn.qkv"
      case .proj: suffix = "attn.proj"
      case .fc1: suffix = "mlp.fc1"
      case .fc2: suffix = "mlp.fc2"
      }
      if swin.indices.contains(block) { return "layers.\(swin[block].stage).blocks.\(swin[block].block).\(suffix)" }
      return "blocks.\(block).\(suffix)"
    }
  }

  /// Bytes of the sums for `model` (checked against the calibration memory budget); nil if
  /// they overflow.
  static func bytes(_ model: ModelDescription) -> Int? {
    let a = model.architecture
    var depths = [a.inChannels, a.patchSize, a.patchSize].reduce(Optional(1)) { p, v in p.flatMap { multiply($0, v) } }.map { [$0] } ?? []
    for b in model.blocks { depths += [b.dim, b.dim, b.dim, b.mlpHidden] }
    var total: Int? = 0
    for k in depths { total = total.flatMap { t in multiply(k, k).flatMap { multiply($0, 8) }.flatMap { add(t, $0) } } }
    return depths.count == 1 + 4 * model.blocks.count ? total : nil
  }

  private static func multiply(_ a: Int, _ b: Int) -> Int? {
    let (v, o) = a.multipliedReportingOverflow(by: b)
    return o ? nil : v
  }

  private static func add(_ a: Int, _ b: Int) -> Int? {
    let (v, o) = a.addingReportingOverflow(b)
    return o ? nil : v
  }

  /// Runs `batches` (preprocessed, each `images × model.inputShape` values) through `model`, one
  /// image at a time so that the sums are added in image order whatever the batching (`names`:
  /// each observed layer's section prefix).
  static func gather(_ model: Model, batches: [(values: [Float], images: Int)],
                     names: @escaping @Sendable (Int, ObservedLinear) -> String) throws(CompileError) -> LinearInputGram {
    final class Box: @unchecked Sendable {
      var gram = LinearInputGram()
      var transposed: [Float] = [], product: [Float] = []
    }
    let box = Box()
    model.linearInputObserver = { block, layer, x, rows, k, ld in
      let name = names(block, layer)
      if box.transposed.count < rows * k { box.transposed = [Float](repeating: 0, count: rows * k) }
      if box.product.count < k * k { box.product = [Float](repeating: 0, count: k * k) }
      box.transposed.withUnsafeMutableBufferPointer { t in
        for r in 0..<rows { for c in 0..<k { t[c * rows + r] = x[r * ld + c] } }
        box.product.withUnsafeMutableBufferPointer { p in
          Kernels.gemmNT(m: k, n: k, k: rows, alpha: 1, a: t.baseAddress!, lda: rows, b: t.baseAddress!, ldb: rows,
                         c: p.baseAddress!, ldc: k)
        }
      }
      var sums = box.gram.products[name] ?? [Double](repeating: 0, count: k * k)
      box.gram.products[name] = nil
      for i in 0..<(k * k) { sums[i] += Double(box.product[i]) }
      box.gram.products[name] = sums
      box.gram.depth[name] = k
    }
    defer { model.linearInputObserver = nil }
    let per = model.inputShape.reduce(1, *)
    for batch in batches {
      for i in 0..<batch.images {
        let image = Array(batch.values[(i * per)..<((i + 1) * per)])
        do throws(RuntimeError) { _ = try model.run(image, batch: 1) } catch { throw CompileError(error.description) }
        box.gram.images += 1
      }
    }
    return box.gram
  }
}

extension LinearInputGram {
  /// For an int4 compile with GPTQ rounding: the sums over the calibration images on `model` as
  /// compiled (after every pass, float weights), and a memo for the rounding. Nil when there are
  /// no calibration images (the layers are then rounded to nearest). The sums are checked
  /// against the calibration memory budget before anything is allocated. (Sequential GPTQ —
  /// each block's sums on the model whose earlier blocks are rounded — measured 0.99024 against
  /// 0.99019 on DINOv2-S/14 at 3.7× the time: docs/QUANTIZATION.md.)
  static func forCompile(_ model: ModelDescription, options: CompileOptions, source: String)
    throws(CompileError) -> (gram: LinearInputGram, memo: GPTQMemo)?
  {
    guard options.precision == .int4, options.quantization.rounding == .gptq else { return nil }
    let images = Calibration.select(options.calibrationImages, options: options.calibration)
    guard !images.isEmpty else { return nil }
    let budget = options.calibration.memoryBudget ?? MemoryBudget.defaultBudget().bytes
    guard let needed = bytes(model), needed <= budget else {
      throw CompileError("\(source): GPTQ rounding needs \(bytes(model).map(MemoryBudget.text) ?? "more than \(Int.max) bytes") for its layer-input sums, over the memory budget of \(MemoryBudget.text(budget)); raise --memory-budget or pass --rounding nearest")
    }
    let batches = try ImageInput.batches(paths: images, preprocessing: model.preprocessing)
    let float = try Evaluation.model(of: model, name: source, threads: options.threads, source: source)
    return (try gather(float, batches: batches, names: namer(for: model)), GPTQMemo())
  }
}
