import EAMFormat
import EAMRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Options of a calibration pass.
public struct CalibrationOptions: Sendable {
  /// Use at most this many images (the first, in name order).
  public var count: Int?
  /// `(i, n)`: only the i-th of n shards (1-based), images `k` with `k % n == i − 1`.
  public var shard: (index: Int, count: Int)?
  /// Images per forward pass.
  public var batch = 8
  /// Show progress on stderr (`Progress`: a bar on a terminal, plain lines in a job log).
  public var progress = true
  /// The most memory calibration may hold, in bytes (`CalibrationMemory`); nil:
  /// `MemoryBudget.defaultBudget()`. When the statistics of every block do not fit, blocks are
  /// calibrated in groups, in successive passes over the images, with the same result.
  public var memoryBudget: Int?
  /// Called once the plan is made, before anything large is allocated (e.g. to say on the
  /// command line that calibration runs in several passes).
  public var onPlan: (@Sendable (CalibrationPlan) -> Void)?
  public init() {}
}

/// Calibration: the runtime's own forward pass, with an observer that folds every attention map
/// into mergeable statistics. Streams: memory does not grow with the number of images.
public enum Calibration {
  /// Blocks whose attention is calibrated (attention removed → none), in order.
  static func attentionBlocks(_ model: ModelDescription) -> [Int] {
    model.blocks.filter { !$0.attentionRemoved }.map(\.index)
  }

  /// The fingerprint that statistics carry, so that shards of different models never merge.
  static func fingerprint(_ model: ModelDescription, sourceSHA256: String) -> String {
    let p = model.preprocessing
    return "\(sourceSHA256) resize=\(p.resizeShorterSide) crop=\(p.cropSize) mean=\(p.mean) std=\(p.std)"
  }

  /// The images of this shard.
  public static func select(_ images: [String], options: CalibrationOptions) -> [String] {
    var list = images
    if let count = options.count { list = Array(list.prefix(count)) }
    if let (i, n) = options.shard { list = list.enumerated().filter { $0.offset % n == i - 1 }.map(\.element) }
    return list
  }

  /// Runs `images` through the float model and returns their statistics (of every block: a
  /// compile hands them to its passes). Within `options.memoryBudget`: the statistics of every
  /// block must fit, with the model; if the attention maps buffered for a fold do not fit beside
  /// them, groups of blocks are folded in successive passes over the images (in place).
  public static func run(_ description: ModelDescription, floatModel: Model, images: [String], sourceSHA256: String,
                         options: CalibrationOptions) throws(CompileError) -> AttentionStatistics
  {
    let blocks = attentionBlocks(description)
    guard !blocks.isEmpty else { throw CompileError("the model has no attention to calibrate") }
    let plan = try self.plan(description, floatModel: floatModel, options: options, resident: true)
    let layout = MapLayout(description, blocks: blocks)
    var whole: AttentionStatistics
    do throws(StatisticsError) {
      whole = try AttentionStatistics(layers: blocks.count, heads: layout.heads, tokens: layout.tokens,
                                      model: fingerprint(description, sourceSHA256: sourceSHA256))
    } catch { throw CompileError(error.description) }
    // Each pass folds into a view of `whole` (one pass: of every layer); `absorb` checks that
    // no fold went to a copy.
    for (k, group) in plan.groups.enumerated() {
      // The view is made in the call: a reference kept here would make the fold copy it.
      let filled = try pass(description, floatModel: floatModel, images: images, layout: layout, layers: group,
                            plan: plan, statistics: AttentionStatistics(layers: group, viewing: whole), options: options,
                            label: plan.groups.count > 1 ? passLabel(plan, k) : nil)
      do throws(StatisticsError) { try whole.absorb(filled, layers: group) } catch { throw CompileError(error.description) }
    }
    return whole
  }

  /// The memory plan of a calibration with `options`, from the model alone (nothing large is
  /// allocated yet): `resident` when the statistics of every block are kept (a compile).
  public static func plan(_ description: ModelDescription, floatModel: Model, options: CalibrationOptions,
                          resident: Bool) throws(CompileError) -> CalibrationPlan
  {
    guard let memory = CalibrationMemory(description, floatModel: floatModel) else {
      throw CompileError("the attention statistics of this model do not fit in memory (more than 8 EiB)")
    }
    let budget = options.memoryBudget ?? MemoryBudget.defaultBudget().bytes
    let plan = try CalibrationPlan.make(memory, batch: options.batch, budget: budget, resident: resident)
    options.onPlan?(plan)
    return plan
  }

  /// `blocks 4–7 (pass 2 of 3)`.
  static func passLabel(_ plan: CalibrationPlan, _ k: Int) -> String {
    let b = plan.blocks[k]
    return (b.count == 1 ? "block \(b[0])" : "blocks \(b.first!)–\(b.last!)") + " (pass \(k + 1) of \(plan.groups.count))"
  }

  /// One pass over `images`, folding the maps of the attention layers `layers` into
  /// `statistics` (statistics of exactly those layers); the other layers' maps are ignored.
  static func pass(_ description: ModelDescription, floatModel: Model, images: [String], layout: MapLayout,
                   layers: Range<Int>, plan: CalibrationPlan, statistics: consuming AttentionStatistics,
                   options: CalibrationOptions, label: String? = nil) throws(CompileError) -> AttentionStatistics
  {
    let batch = plan.batch
    let sink = AttentionObserverSink(statistics: consume statistics, images: batch,
                                     mapsPerImage: Array(layout.windows[layers]), pool: floatModel.pool)
    let observe = sink.observer
    // Windowed attention: the runtime gives the windows of one (block, image, head) in order from
    // one thread; a counter per (layer, image, head) numbers them (no two threads share one).
    let counters = UnsafeMutablePointer<Int>.allocate(capacity: layout.counterCount(batch: batch))
    defer { counters.deallocate() }
    let layerOf = layout.layerOf
    floatModel.attentionObserver = { [layout] block, image, head, map, tokens, values, stride in
      let layer = layerOf[block]
      guard layers.contains(layer) else { return }
      let windows = layout.windows[layer]
      if windows == 1 {
        observe(layer - layers.lowerBound, image, head, map, tokens, values, stride)
      } else {
        let c = counters + layout.counterBase(layer: layer, batch: batch) + image * layout.heads[layer] + head
        observe(layer - layers.lowerBound, image * windows + c.pointee, head, map, tokens, values, stride)
        c.pointee += 1
      }
    }
    defer { floatModel.attentionObserver = nil }
    // The first pass also records every linear layer's input range (static int8 activations).
    final class Ranges: @unchecked Sendable { var values: [String: ClosedRange<Float>] = [:] }
    let ranges = Ranges()
    if layers.lowerBound == 0 {
      let names = LinearInputGram.namer(for: description)
      floatModel.linearInputObserver = { block, layer, x, rows, k, ld in
        let name = names(block, layer)
        ranges.values[name] = LinearInputRange.range(x, rows: rows, k: k, ld: ld, widening: ranges.values[name])
      }
    }
    defer { floatModel.linearInputObserver = nil }
    let progress = options.progress ? Progress(label.map { "calibrating " + $0 } ?? "calibrating", total: images.count) : nil
    var output = [Float](repeating: 0, count: batch * floatModel.outputWidth)
    var done = 0
    while done < images.count {
      let chunk = Array(images[done..<min(images.count, done + batch)])
      let input = try ImageInput.batch(paths: chunk, preprocessing: description.preprocessing)
      var hashes: [String] = []
      for path in chunk {
        do throws(FileHash.ReadError) { hashes.append(try FileHash.sha256(path: path)) } catch {
          throw CompileError("\(path): cannot read")
        }
      }
      counters.update(repeating: 0, count: layout.counterCount(batch: batch))
      input.withUnsafeBufferPointer { i in
        output.withUnsafeMutableBufferPointer { o in floatModel.run(i.baseAddress!, batch: chunk.count, into: o.baseAddress!) }
      }
      do throws(StatisticsError) { try sink.finishBatch(imageSHA256: hashes) } catch { throw CompileError(error.description) }
      done += chunk.count
      progress?.advance(chunk.count)
    }
    progress?.finish()
    for (name, r) in ranges.values where !(r.lowerBound.isFinite && r.upperBound.isFinite) {
      throw CompileError("the input of \(name) is not finite on the calibration images")
    }
    do throws(StatisticsError) {
      var filled = try sink.finish()
      filled.linearInputRanges = ranges.values
      return filled
    } catch { throw CompileError(error.description) }
  }

  /// What the passes and the report need from the statistics, entry entropies measured at an
  /// absolute resolution (see `AttentionStatistics.entryEntropies(layer:head:resolution:)`).
  public static func result(_ s: AttentionStatistics, model: ModelDescription,
                            entropyResolution: Float = EAMOptions.defaultEntropyResolution) -> CalibrationResult {
    let blocks = attentionBlocks(model)
    var perHead = [[HeadEntryStatistics]?](repeating: nil, count: model.blocks.count)
    var entropy = [[Float]](repeating: [], count: model.blocks.count)
    for (l, b) in blocks.enumerated() {
      let heads = model.blocks[b].heads
      perHead[b] = (0..<heads).map { h in
        HeadEntryStatistics(tokens: s.tokens[l], entropy: s.entryEntropies(layer: l, head: h, resolution: entropyResolution),
                            mean: s.entryMeans(layer: l, head: h), median: s.entryQuantiles(layer: l, head: h, q: 0.5),
                            std: s.entryStds(layer: l, head: h))
      }
      entropy[b] = (0..<heads).map { Float(s.headEntropy(layer: l, head: $0)) }
    }
    return CalibrationResult(images: s.imageCount, setHash: s.calibrationSetSHA256, perHead: perHead, headEntropy: entropy)
  }
}

/// Where each attention layer's maps come from: one T×T map per (image, head) for the ViT
/// family; for Swin one w²×w² map per window, pooled over the windows of the layer and head
/// (in shifted blocks the boundary windows' masked entries count as the ~0 they are).
struct MapLayout: Sendable {
  /// Per attention layer: tokens of a map, maps per image and heads.
  let tokens: [Int], windows: [Int], heads: [Int]
  /// Per block: its attention layer, or −1.
  let layerOf: [Int]
  /// Heads of the layers before each layer (and the total, last).
  let headsBefore: [Int]

  init(_ model: ModelDescription, blocks: [Int]) {
    var layerOf = [Int](repeating: -1, count: model.blocks.count)
    for (l, b) in blocks.enumerated() { layerOf[b] = l }
    self.layerOf = layerOf
    heads = blocks.map { model.blocks[$0].heads }
    var before = [0]
    for h in heads { before.append(before.last! + h) }
    headsBefore = before
    if model.architecture.family == .swin {
      tokens = blocks.map { model.blocks[$0].windowSize * model.blocks[$0].windowSize }
      windows = blocks.map { b in
        let side = model.blocks[b].resolution / max(1, model.blocks[b].windowSize)
        return side * side
      }
    } else {
      tokens = blocks.map { _ in model.tokens }
      windows = blocks.map { _ in 1 }
    }
  }

  /// Window counters (one per layer, image of the batch and head): where layer `l`'s start.
  func counterBase(layer: Int, batch: Int) -> Int { headsBefore[layer] * batch }
  func counterCount(batch: Int) -> Int { headsBefore.last! * batch }
}
