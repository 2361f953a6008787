import EAMRuntimeCore

/// Where the runs of a model spend their attention time (benchmarks): attached to a model as
/// its `attentionProbe`, it reads the clock at every event the forward pass reports.
///
/// "Attention" is the part the frozen maps change: Q·Kᵀ, the softmax and P·V of every head
/// (the qkv and output projections, LayerNorm and MLP excluded).
public final class AttentionTiming: @unchecked Sendable {
  /// Wall-clock seconds in attention since the last `reset()`, summed over blocks.
  public private(set) var seconds: Double = 0
  /// Per phase (`AttentionPhase` order): thread-seconds since the last `reset()`, summed over the
  /// pool's threads (with several threads the sum of phases exceeds `seconds`).
  public private(set) var phaseSeconds: [Double] = [0, 0, 0]

  let threads: Int
  /// Per thread, one cache line: the time of its last event, then the phase sums of the step.
  private let slots: UnsafeMutablePointer<Double>
  private static let stride = 8
  private var stepStart: Double = 0

  public init(threads: Int) {
    self.threads = threads
    slots = .allocate(capacity: threads * Self.stride)
    slots.initialize(repeating: 0, count: threads * Self.stride)
  }

  deinit { slots.deallocate() }

  public func reset() {
    seconds = 0
    phaseSeconds = [0, 0, 0]
  }

  /// Times the attention of `model`'s runs from now on.
  public func attach(to model: Model) {
    model.attentionProbe = probe
  }

  /// The probe: per-thread marks (slot 0), phase sums (slots 1...3), folded at the end of a step.
  public var probe: AttentionProbe {
    AttentionProbe(
      step: { [self] begins in
        if begins {
          stepStart = Clock.now()
          return
        }
        seconds += Clock.now() - stepStart
        for t in 0..<threads {
          for p in 0..<3 {
            phaseSeconds[p] += slots[t * Self.stride + 1 + p]
            slots[t * Self.stride + 1 + p] = 0
          }
        }
      },
      phase: { [self] thread, phase in
        let now = Clock.now()
        slots[thread * Self.stride + 1 + phase.rawValue] += now - slots[thread * Self.stride]
        slots[thread * Self.stride] = now
      },
      restart: { [self] thread in slots[thread * Self.stride] = Clock.now() })
  }
}
