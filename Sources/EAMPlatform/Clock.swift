/// Monotonic time, the runtime's only view of the clock (0 on targets without one).
public enum Clock {
  /// Seconds on a monotonic clock.
  public static func now() -> Double { Syscalls.monotonicSeconds() }
}
