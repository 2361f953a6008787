/// Where the runs of a model spend their attention time, while `Model.timesAttention` is on
/// (benchmarks). Off, the forward passes read no clock.
///
/// "Attention" is the part the frozen maps change: Q·Kᵀ, the softmax and P·V of every head
/// (the qkv and output projections, LayerNorm and MLP excluded).
public final class AttentionTiming {
  /// The phases of one head's attention.
  public enum Phase: Int, CaseIterable, Sendable {
    /// Q·Kᵀ (Swin: plus the relative-position bias and the shift mask).
    case scores = 0
    /// The softmax, plain or with frozen entries.
    case softmax = 1
    /// P·V.
    case output = 2
  }

  /// Wall-clock seconds in attention since the last `reset()`, summed over blocks.
  public private(set) var seconds: Double = 0
  /// Per phase: thread-seconds since the last `reset()`, summed over the pool's threads (with
  /// several threads the sum of phases exceeds `seconds`).
  public private(set) var phaseSeconds: [Double] = [0, 0, 0]

  let threads: Int
  /// Per thread, one cache line: the phase sums of the current attention step.
  private let slots: UnsafeMutablePointer<Double>
  private static let stride = 8

  init(threads: Int) {
    self.threads = threads
    slots = .allocate(capacity: threads * Self.stride)
    slots.initialize(repeating: 0, count: threads * Self.stride)
  }

  deinit { slots.deallocate() }

  public func reset() {
    seconds = 0
    phaseSeconds = [0, 0, 0]
  }

  /// Times one attention step (all heads of one block): `body` runs the pool's threads, which
  /// report their phases through `PhaseClock`s.
  func measure(_ body: () -> Void) {
    let start = Clock.now()
    body()
    seconds += Clock.now() - start
    for t in 0..<threads {
      for p in 0..<3 {
        phaseSeconds[p] += slots[t * Self.stride + p]
        slots[t * Self.stride + p] = 0
      }
    }
  }

  fileprivate func add(thread: Int, phase: Phase, _ s: Double) { slots[thread * Self.stride + phase.rawValue] += s }
}

/// A worker thread's stopwatch for the phases of attention; does nothing without a timing.
struct PhaseClock {
  let timing: AttentionTiming?
  let thread: Int
  private var mark: Double

  init(_ timing: AttentionTiming?, thread: Int) {
    self.timing = timing
    self.thread = thread
    mark = timing == nil ? 0 : Clock.now()
  }

  /// Charges the time since the last lap (or restart) to `phase`.
  mutating func lap(_ phase: AttentionTiming.Phase) {
    guard let timing else { return }
    let now = Clock.now()
    timing.add(thread: thread, phase: phase, now - mark)
    mark = now
  }

  /// Starts afresh (time since the last lap is charged to no phase: the observer's).
  mutating func restart() {
    if timing != nil { mark = Clock.now() }
  }
}
