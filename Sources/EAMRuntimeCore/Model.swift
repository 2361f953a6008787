@_exported import EAMPlatform
import EAMFormat

/// How to load a model.
public struct LoadOptions: Sendable {
  /// Threads of the runtime's pool (the caller's included); default: all cores.
  public var threads: Int = ThreadPool.availableCores
  /// Check every section's checksum at load.
  public var verify = true
  /// Widen f16 linear weights to f32 at load (twice the memory) instead of using them in place
  /// with the converting GEMM; the outputs are the same either way.
  public var widenF16 = false
  /// Which attention kernel runs the ViT family's heads when no observer is attached.
  public var attention: AttentionKernel = .automatic
  /// Bytes the model may allocate because of its manifest (`PlannedMemory.total`), checked at load
  /// for one image and before a larger batch; default `defaultMemoryBudget`.
  public var memoryBudget: Int = LoadOptions.defaultMemoryBudget
  public init() {}
}

/// The attention kernel of a run: the fused one (`Kernels.attention`: no T×T map, frozen tiles
/// skipped) or the unfused Q·Kᵀ → softmax → P·V. They agree to 5e-6 per output row, not bit for bit.
public enum AttentionKernel: Sendable {
  /// Fused from `fusedFromTokens` tokens (where the map leaves the caches); unfused below, where
  /// the committed reference outputs were made with it.
  case automatic
  case fused
  case unfused

  public static let fusedFromTokens = 512

  func isFused(tokens: Int) -> Bool {
    switch self {
    case .automatic: tokens >= Self.fusedFromTokens
    case .fused: true
    case .unfused: false
    }
  }
}

/// A loaded `.eam` model, ready to run. Not thread-safe: one run at a time.
public final class Model {
  public let artifact: Artifact
  public var manifest: Manifest { artifact.manifest }
  public let pool: ThreadPool
  let store: WeightStore
  let plan: ModelPlan
  private var arena: Arena?
  /// Called with every attention map of the next runs (calibration).
  public var attentionObserver: AttentionObserver?
  /// Called with the residual stream after every block of the next runs (per-layer error).
  public var blockObserver: BlockObserver?
  /// Called with the residual stream before each half of every ViT block (`eamc analyze`).
  public var sublayerObserver: SublayerObserver?
  /// Called with the input of the linear layers of every block (int4 rounding, int8 ranges).
  public var linearInputObserver: LinearInputObserver?
  /// Sees where the attention of the next runs spends its time (benchmarks); nil by default.
  public var attentionProbe: AttentionProbe?

  /// Loads and validates the artifact at `path` and plans its forward pass.
  ///
  /// On a target without a file system, load from memory: `Model(artifact: Artifact(borrowing:name:))`.
  public convenience init(path: String, options: LoadOptions = LoadOptions()) throws(RuntimeError) {
    let artifact: Artifact
    do throws(FormatError) { artifact = try Artifact(path: path) } catch { throw RuntimeError(error) }
    try self.init(artifact: artifact, options: options)
  }

  public init(artifact: Artifact, options: LoadOptions = LoadOptions()) throws(RuntimeError) {
    self.artifact = artifact
    // Every manifest value in its domain, and what it makes the runtime allocate within the
    // budget, before anything is allocated.
    do throws(FormatError) { derived = try ManifestValidation.check(artifact.manifest, path: artifact.path) } catch {
      throw RuntimeError(error)
    }
    memoryBudget = options.memoryBudget
    memoryOptions = options
    pool = ThreadPool(threads: options.threads)
    plannedMemory = try Self.checkedPlan(artifact, derived, batch: 1, threads: pool.threadCount, options: options)
    store = WeightStore(artifact: artifact, verify: options.verify, widenF16: options.widenF16)
    plan = artifact.manifest.architecture.family == .swin
      ? .swin(try SwinPlan(manifest: artifact.manifest, store: store))
      : .vit(try ViTPlan(manifest: artifact.manifest, store: store, attention: options.attention, pool: pool))
  }

  /// What the model allocates for one image (checked against `memoryBudget` at load).
  public let plannedMemory: PlannedMemory
  /// The budget it was loaded with.
  public let memoryBudget: Int
  private let derived: ManifestValidation.Derived
  private let memoryOptions: LoadOptions

  /// What the model allocates for `batch` images, or why that is over the budget.
  public func plannedMemory(batch: Int) throws(RuntimeError) -> PlannedMemory {
    try Self.checkedPlan(artifact, derived, batch: batch, threads: pool.threadCount, options: memoryOptions)
  }

  private static func checkedPlan(_ artifact: Artifact, _ derived: ManifestValidation.Derived, batch: Int, threads: Int,
                                  options: LoadOptions) throws(RuntimeError) -> PlannedMemory {
    let what = "\(batch) image(s) on \(threads) thread(s)"
    guard batch >= 1, let p = MemoryPlan.plan(artifact, derived: derived, batch: batch, threads: threads, options: options) else {
      throw RuntimeError("the model's memory for \(what) overflows (more than 8 EiB)", path: artifact.path, kind: .memory)
    }
    guard p.total <= options.memoryBudget else {
      throw RuntimeError("the model needs \(p.text) for \(what), over the memory budget of \(PlannedMemory.text(options.memoryBudget))", path: artifact.path,
                         kind: .memory)
    }
    return p
  }

  /// Input of one image: channels, height, width.
  public var inputShape: [Int] {
    let a = manifest.architecture
    return [a.inChannels, a.imageSize, a.imageSize]
  }

  /// Values per image in the output: classes, or the feature width.
  public var outputWidth: Int {
    switch plan {
    case .vit(let p): p.outputWidth
    case .swin(let p): p.outputWidth
    }
  }

  /// The fraction of all attention-map entries (every block and head, T×T each; Swin: the
  /// w²×w² map every window of a head shares) that EAM froze.
  public var frozenAttentionFraction: Double {
    var frozen = 0, total = 0
    switch plan {
    case .vit(let p):
      for block in p.blocks {
        guard let attn = block.attention else { continue }
        total += attn.heads * p.tokens * p.tokens
        frozen += attn.frozen.reduce(0) { $0 + ($1?.frozenCount ?? 0) }
      }
    case .swin(let p):
      for stage in p.stages {
        for block in stage.blocks {
          total += block.heads * block.windowTokens * block.windowTokens
          frozen += block.frozen.reduce(0) { $0 + ($1?.frozenCount ?? 0) }
        }
      }
    }
    return total == 0 ? 0 : Double(frozen) / Double(total)
  }

  /// Bytes of weights converted at load instead of used in place from the file.
  public var copiedWeightBytes: Int { store.copiedBytes }

  /// Bytes of the activation arena (after the first run).
  public var arenaBytes: Int { arena?.bytes ?? 0 }

  /// Sizes the activation arena for `batch` images ahead of the first run. Not checked against
  /// the memory budget: call `plannedMemory(batch:)` first (the throwing `run` does).
  public func reserve(batch: Int) {
    guard arena == nil || arena!.batch < batch else { return }
    switch plan {
    case .vit(let p): arena = Arena(plan: p, batch: batch, threads: pool.threadCount)
    case .swin(let p): arena = Arena(plan: p, batch: batch, threads: pool.threadCount)
    }
    // The int8 layers' activation codes too, as the memory plan counts them: a run allocates nothing.
    if let codes = MemoryPlan.activationCodes(manifest, derived: derived, batch: batch) {
      store.activationCodes.reserve(rows: codes.rows, ld: codes.ld)
    }
  }

  /// Runs `batch` images (`batch × inputShape` floats, preprocessed) into `output`
  /// (`batch × outputWidth` floats). A batch larger than any before grows the arena unchecked, as
  /// `reserve` does.
  public func run(_ input: UnsafePointer<Float>, batch: Int, into output: UnsafeMutablePointer<Float>) {
    precondition(batch > 0)
    reserve(batch: batch)
    switch plan {
    case .vit(let p):
      ViTForward(plan: p, probe: attentionProbe).run(input: input, batch: batch, output: output, arena: arena!, pool: pool,
                              observer: attentionObserver, blockObserver: blockObserver, sublayerObserver: sublayerObserver,
                              linearInputObserver: linearInputObserver)
    case .swin(let p):
      SwinForward(plan: p, probe: attentionProbe).run(input: input, batch: batch, output: output, arena: arena!, pool: pool,
                               observer: attentionObserver, blockObserver: blockObserver,
                               linearInputObserver: linearInputObserver)
    }
  }

  /// Runs a batch given as an array; checks its size.
  public func run(_ input: [Float], batch: Int) throws(RuntimeError) -> [Float] {
    let per = inputShape.reduce(1, *)
    let (needed, overflow) = batch.multipliedReportingOverflow(by: per)
    guard batch > 0, !overflow, input.count == needed else {
      throw RuntimeError("input has \(input.count) values; \(batch) image(s) of \(Shape.text(inputShape)) need \(overflow ? "more" : String(needed))", kind: .input)
    }
    if arena == nil || arena!.batch < batch { _ = try plannedMemory(batch: batch) }
    var out = [Float](repeating: 0, count: batch * outputWidth)
    input.withUnsafeBufferPointer { i in
      out.withUnsafeMutableBufferPointer { o in run(i.baseAddress!, batch: batch, into: o.baseAddress!) }
    }
    return out
  }
}
