#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small fixed pool of threads (pthreads) that run one parallel loop at a time.
///
/// `parallelFor` splits `0..<count` into one contiguous range per thread, statically, so which
/// thread computes what never changes the result of a kernel that is itself split-invariant.
public final class ThreadPool: @unchecked Sendable {
  public let threadCount: Int
  private var threads: [pthread_t] = []
  private var mutex = pthread_mutex_t()
  private var wake = pthread_cond_t()
  private var done = pthread_cond_t()
  private var generation = 0
  private var pending = 0
  private var stopping = false
  private var job: ((Int) -> Void)?

  /// A pool with `threads` threads in all, the caller's included.
  public init(threads: Int) {
    threadCount = max(1, threads)
    pthread_mutex_init(&mutex, nil)
    pthread_cond_init(&wake, nil)
    pthread_cond_init(&done, nil)
    for index in 1..<threadCount {
      let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
      var thread = pthread_t()
      let rc = pthread_create(&thread, nil, { raw in
        let ctx = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
        ctx.pool.workerLoop(ctx.index)
        return nil
      }, context)
      if rc == 0 { self.threads.append(thread) }
    }
  }

  deinit {
    pthread_mutex_lock(&mutex)
    stopping = true
    pthread_cond_broadcast(&wake)
    pthread_mutex_unlock(&mutex)
    for t in threads { pthread_join(t, nil) }
    pthread_cond_destroy(&wake)
    pthread_cond_destroy(&done)
    pthread_mutex_destroy(&mutex)
  }

  /// Number of CPUs online.
  public static var availableCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

  /// Calls `body(i)` for every `i` in `0..<count`, thread `t` taking the `t`-th contiguous slice.
  public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    let workers = min(threadCount, count)
    if workers <= 1 {
      for i in 0..<count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let slice: (Int) -> Void = { t in
        let lo = t * count / workers, hi = (t + 1) * count / workers
        for i in lo..<hi { body(i) }
      }
      pthread_mutex_lock(&mutex)
      job = { t in if t < workers { slice(t) } }
      pending = threads.count
      generation += 1
      pthread_cond_broadcast(&wake)
      pthread_mutex_unlock(&mutex)
      slice(0)
      pthread_mutex_lock(&mutex)
      while pending > 0 { pthread_cond_wait(&done, &mutex) }
      job = nil
      pthread_mutex_unlock(&mutex)
    }
  }

  private func workerLoop(_ index: Int) {
    var seen = 0
    pthread_mutex_lock(&mutex)
    while true {
      while generation == seen && !stopping { pthread_cond_wait(&wake, &mutex) }
      if stopping { break }
      seen = generation
      let work = job
      pthread_mutex_unlock(&mutex)
      work?(index)
      pthread_mutex_lock(&mutex)
      pending -= 1
      if pending == 0 { pthread_cond_signal(&done) }
    }
    pthread_mutex_unlock(&mutex)
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
