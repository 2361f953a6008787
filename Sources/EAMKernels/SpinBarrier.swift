import CEAMKernels

/// A spinning barrier (`eam_barrier.h`) for the threads of one parallel step that meet inside it;
/// every party must run on its own thread at the same time.
public final class SpinBarrier {
  private let state: UnsafeMutablePointer<eam_barrier>

  public init() {
    state = .allocate(capacity: 1)
    state.initialize(to: eam_barrier(arrived: 0, generation: 0, sleepers: 0))
  }

  deinit { state.deallocate() }

  /// Returns when `threads` threads have called it.
  public func wait(threads: Int) { eam_barrier_wait(state, Int32(threads)) }
}
