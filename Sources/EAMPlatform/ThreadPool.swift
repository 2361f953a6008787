/// A small fixed pool of threads that run one parallel loop at a time (one thread where the
/// platform offers none).
///
/// `parallelFor` splits `0..<count` into one contiguous range per thread, statically, so which
/// thread computes what never changes the result of a kernel that is itself split-invariant.
public final class ThreadPool: @unchecked Sendable {
  public let threadCount: Int
  private var threads: [UnsafeMutableRawPointer] = []
  private let sync: Syscalls.Sync?
  private var generation = 0
  private var pending = 0
  private var stopping = false
  /// The loop being run: its body (the caller's closure, not copied to the heap: not optional,
  /// since an optional closure would be stored through a heap-allocated thunk), its count and the
  /// threads that share it (0 when none runs).
  private var job: (Int) -> Void = ThreadPool.idle
  private var jobCount = 0
  private var jobWorkers = 0

  /// A pool with `threads` threads in all, the caller's included.
  public init(threads: Int) {
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
  }

  deinit {
    guard let sync else { return }
    Syscalls.lock(sync)
    stopping = true
    Syscalls.broadcastWake(sync)
    Syscalls.unlock(sync)
    for t in threads { Syscalls.threadJoin(t) }
    Syscalls.syncDestroy(sync)
  }

  /// Number of CPUs online.
  public static var availableCores: Int { Syscalls.onlineCPUs }

  /// Calls `body(i)` for every `i` in `0..<count`, thread `t` taking the `t`-th contiguous slice.
  public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    let workers = min(threads.count + 1, count)
    guard workers > 1, let sync else {
      for i in 0..<count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { body in
      Syscalls.lock(sync)
      job = body
      jobCount = count
      jobWorkers = workers
      pending = threads.count
      generation += 1
      Syscalls.broadcastWake(sync)
      Syscalls.unlock(sync)
      Self.slice(0, of: count, workers: workers, body)
      Syscalls.lock(sync)
      while pending > 0 { Syscalls.waitDone(sync) }
      job = Self.idle
      jobWorkers = 0
      Syscalls.unlock(sync)
    }
  }

  private static let idle: @Sendable (Int) -> Void = { _ in }

  /// Thread `t`'s contiguous part of `0..<count`.
  private static func slice(_ t: Int, of count: Int, workers: Int, _ body: (Int) -> Void) {
    guard t < workers else { return }
    for i in (t * count / workers)..<((t + 1) * count / workers) { body(i) }
  }

  private func workerLoop(_ index: Int) {
    guard let sync else { return }
    var seen = 0
    Syscalls.lock(sync)
    while true {
      while generation == seen && !stopping { Syscalls.waitWake(sync) }
      if stopping { break }
      seen = generation
      let work = job, count = jobCount, workers = jobWorkers
      Syscalls.unlock(sync)
      Self.slice(index, of: count, workers: workers, work)
      Syscalls.lock(sync)
      pending -= 1
      if pending == 0 { Syscalls.signalDone(sync) }
    }
    Syscalls.unlock(sync)
  }
}

private final class WorkerContext {
  let pool: ThreadPool
  let index: Int
  init(pool: ThreadPool, index: Int) {
    self.pool = pool
    self.index = index
  }
}
