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
  /// The loop being run: a body on the caller's stack and the function that runs it (a closure
  /// that captures nothing: no allocation), its count and the threads that share it.
  private var job: (UnsafeRawPointer, Int) -> Void = { _, _ in }
  private var jobBody: UnsafeRawPointer?
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

  /// Threads that run a parallel loop's parts at the same time (`threadCount` unless a thread
  /// failed to start): the most parts that may wait for each other.
  public var concurrentThreads: Int { sync == nil ? 1 : threads.count + 1 }

  /// Number of CPUs online.
  public static var availableCores: Int { Syscalls.onlineCPUs }

  /// Calls `body.run(i)` for every `i` in `0..<count`, thread `t` taking the `t`-th contiguous
  /// slice. Allocates nothing: the runtime core's loops are written this way.
  public func parallelFor<Body: ParallelBody>(_ count: Int, _ body: Body) {
    let workers = min(threads.count + 1, count)
    guard workers > 1, let sync else {
      for i in 0..<count { body.run(i) }
      return
    }
    withUnsafePointer(to: body) { p in
      Syscalls.lock(sync)
      job = { body, i in body.assumingMemoryBound(to: Body.self).pointee.run(i) }
      jobBody = UnsafeRawPointer(p)
      jobCount = count
      jobWorkers = workers
      pending = threads.count
      generation += 1
      Syscalls.broadcastWake(sync)
      Syscalls.unlock(sync)
      Self.slice(0, of: count, workers: workers) { body.run($0) }
      Syscalls.lock(sync)
      while pending > 0 { Syscalls.waitDone(sync) }
      job = { _, _ in }
      jobBody = nil
      jobWorkers = 0
      Syscalls.unlock(sync)
    }
  }

  /// Calls `body(i)` for every `i` in `0..<count`, as above. With several threads Swift boxes the
  /// closure for them (one small allocation per call): for hosted callers.
  public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in parallelFor(count, ClosureBody(body: body)) }
  }

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
      let work = job, body = jobBody, count = jobCount, workers = jobWorkers
      Syscalls.unlock(sync)
      if let body { Self.slice(index, of: count, workers: workers) { work(body, $0) } }
      Syscalls.lock(sync)
      pending -= 1
      if pending == 0 { Syscalls.signalDone(sync) }
    }
    Syscalls.unlock(sync)
  }
}

/// What a worker thread starts with. The pool is not retained: its deinit joins the workers
/// before its memory goes, and a retained pool would never be freed.
private final class WorkerContext {
  unowned(unsafe) let pool: ThreadPool
  let index: Int
  init(pool: ThreadPool, index: Int) {
    self.pool = pool
    self.index = index
  }
}

/// The body of a parallel loop: `run(i)` for each index, from any thread.
public protocol ParallelBody {
  func run(_ i: Int)
}

private struct ClosureBody: ParallelBody {
  let body: (Int) -> Void
  func run(_ i: Int) { body(i) }
}
