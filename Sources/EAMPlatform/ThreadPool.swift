/// A small fixed pool of threads that run one parallel loop at a time (one thread where the
/// target has none).
///
/// `parallelFor` splits `0..<count` into one contiguous range per thread, statically, so which
/// thread computes what never changes the result of a kernel that is itself split-invariant.
public final class ThreadPool: @unchecked Sendable {
  public let threadCount: Int
  #if !os(none)
  private var threads: [UnsafeMutableRawPointer] = []
  private let sync: Syscalls.Sync?
  private var generation = 0
  private var pending = 0
  private var stopping = false
  private var job: ((Int) -> Void)?
  #endif

  /// A pool with `threads` threads in all, the caller's included.
  public init(threads: Int) {
    #if os(none)
    threadCount = 1
    #else
    sync = Syscalls.syncCreate()
    threadCount = sync == nil ? 1 : max(1, threads)
    var started: [UnsafeMutableRawPointer] = []
    for index in 1..<threadCount {
      let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
      if let handle = Syscalls.threadStart({ raw in
        let ctx = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
        ctx.pool.workerLoop(ctx.index)
        return nil
      }, context) {
        started.append(handle)
      } else {
        Unmanaged<WorkerContext>.fromOpaque(context).release()
      }
    }
    self.threads = started
    #endif
  }

  deinit {
    #if !os(none)
    guard let sync else { return }
    Syscalls.lock(sync)
    stopping = true
    Syscalls.broadcastWake(sync)
    Syscalls.unlock(sync)
    for t in threads { Syscalls.threadJoin(t) }
    Syscalls.syncDestroy(sync)
    #endif
  }

  /// Number of CPUs online.
  public static var availableCores: Int { Syscalls.onlineCPUs }

  /// Calls `body(i)` for every `i` in `0..<count`, thread `t` taking the `t`-th contiguous slice.
  public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    #if os(none)
    for i in 0..<count { body(i) }
    #else
    let workers = min(threads.count + 1, count)
    guard workers > 1, let sync else {
      for i in 0..<count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let slice: (Int) -> Void = { t in
        let lo = t * count / workers, hi = (t + 1) * count / workers
        for i in lo..<hi { body(i) }
      }
      Syscalls.lock(sync)
      job = { t in if t < workers { slice(t) } }
      pending = threads.count
      generation += 1
      Syscalls.broadcastWake(sync)
      Syscalls.unlock(sync)
      slice(0)
      Syscalls.lock(sync)
      while pending > 0 { Syscalls.waitDone(sync) }
      job = nil
      Syscalls.unlock(sync)
    }
    #endif
  }

  #if !os(none)
  private func workerLoop(_ index: Int) {
    guard let sync else { return }
    var seen = 0
    Syscalls.lock(sync)
    while true {
      while generation == seen && !stopping { Syscalls.waitWake(sync) }
      if stopping { break }
      seen = generation
      let work = job
      Syscalls.unlock(sync)
      work?(index)
      Syscalls.lock(sync)
      pending -= 1
      if pending == 0 { Syscalls.signalDone(sync) }
    }
    Syscalls.unlock(sync)
  }
  #endif
}

#if !os(none)
private final class WorkerContext {
  let pool: ThreadPool
  let index: Int
  init(pool: ThreadPool, index: Int) {
    self.pool = pool
    self.index = index
  }
}
#endif
