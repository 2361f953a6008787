import EAMFormat
/// The phases of one head's attention.
public enum AttentionPhase: Int, Sendable {
  /// Q·Kᵀ (Swin: plus the relative-position bias and the shift mask).
  case scores = 0
  /// The softmax, plain or with frozen entries.
  case softmax = 1
  /// P·V (the fused kernel reports all of its time here).
  case output = 2
}

/// Hooks a benchmark attaches to see where attention time goes; the core itself reads no clock
/// for them. "Attention" is the part frozen maps change: Q·Kᵀ, softmax and P·V of every head.
public struct AttentionProbe {
  /// On the calling thread, before (`true`) and after (`false`) each attention step (all heads
  /// of one block).
  public var step: (_ begins: Bool) -> Void
  /// By worker `thread` when it ends `phase` of one head.
  public var phase: (_ thread: Int, _ phase: AttentionPhase) -> Void
  /// By worker `thread` when the time since its last event belongs to no phase (the worker
  /// starts, or the calibration observer ran).
  public var restart: (_ thread: Int) -> Void

  public init(step: @escaping (Bool) -> Void, phase: @escaping (Int, AttentionPhase) -> Void,
              restart: @escaping (Int) -> Void) {
    self.step = step
    self.phase = phase
    self.restart = restart
  }
}

/// A worker's view of the probe: does nothing without one.
struct PhaseMarks {
  let probe: AttentionProbe?
  let thread: Int

  init(_ probe: AttentionProbe?, thread: Int) {
    self.probe = probe
    self.thread = thread
    probe?.restart(thread)
  }

  func lap(_ phase: AttentionPhase) { probe?.phase(thread, phase) }
  func restart() { probe?.restart(thread) }
}

extension ThreadPool {
  /// Runs `workers` attention workers, inside the probe's step when there is one.
  func attentionStep<Body: ParallelBody>(_ workers: Int, probe: AttentionProbe?, _ body: Body) {
    probe?.step(true)
    parallelFor(workers, body)
    probe?.step(false)
  }
}
