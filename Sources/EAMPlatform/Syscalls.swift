// Every operating-system call of the runtime core goes through this file (and
// CEAMPlatform/include/eam_platform.h). Three kinds of target:
// - POSIX (Linux, Darwin): files are mapped, threads are pthreads, the clock is monotonic;
// - no operating system of its own (Embedded Swift on bare metal, `os(none)`): no files
//   (artifacts come as memory buffers); threads, clock and CPU count come from functions the
//   linking program supplies (one thread and no clock where it has none);
// - anything else does not build.
#if os(Linux) || os(macOS) || os(iOS) || os(tvOS) || os(watchOS) || os(visionOS)
import CEAMPlatform

enum Syscalls {
  static let hasFiles = true

  static func openRead(_ path: String) -> Int32 { path.withCString { eam_open_read($0) } }
  static func close(_ fd: Int32) { _ = eam_close(fd) }
  /// The size of the regular file behind `fd`: `.success(size)`, or why not.
  static func regularFileSize(_ fd: Int32) -> (size: Int64, status: Int32) {
    var size: Int64 = 0
    let status = eam_regular_file_size(fd, &size)
    return (size, status)
  }
  static func mapRead(_ fd: Int32, length: Int) -> UnsafeRawPointer? { eam_map_read(fd, length) }
  static func unmap(_ p: UnsafeRawPointer, length: Int) { eam_unmap(p, length) }
  static var errorText: String { String(cString: eam_error_text(eam_errno())) }
  typealias Sync = UnsafeMutablePointer<eam_sync>
}
#elseif os(none)
import CEAMPlatform

enum Syscalls {
  static let hasFiles = false
  typealias Sync = OpaquePointer
}
#else
#error("EAMPlatform: unsupported platform (POSIX or no operating system)")
#endif

// The same on both: the calls are inline POSIX wrappers, or the linking program's functions.
extension Syscalls {
  static func monotonicSeconds() -> Double { eam_monotonic_seconds() }
  static var onlineCPUs: Int { Int(eam_online_cpus()) }
  static var physicalMemory: Int { Int(eam_physical_memory()) }

  static func syncCreate() -> Sync? { eam_sync_create() }
  static func syncDestroy(_ s: Sync) { eam_sync_destroy(s) }
  static func lock(_ s: Sync) { eam_sync_lock(s) }
  static func unlock(_ s: Sync) { eam_sync_unlock(s) }
  static func waitWake(_ s: Sync) { eam_sync_wait_wake(s) }
  static func broadcastWake(_ s: Sync) { eam_sync_broadcast_wake(s) }
  static func waitDone(_ s: Sync) { eam_sync_wait_done(s) }
  static func signalDone(_ s: Sync) { eam_sync_signal_done(s) }
  static func threadStart(_ body: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
                          _ context: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
    eam_thread_start(body, context)
  }
  static func threadJoin(_ handle: UnsafeMutableRawPointer) { eam_thread_join(handle) }
}
