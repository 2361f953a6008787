/// The machine's physical memory, for default memory budgets.
public enum PhysicalMemory {
  /// Bytes of physical memory; nil where the platform cannot tell (bare metal).
  public static var bytes: Int? {
    let n = Syscalls.physicalMemory
    return n > 0 ? n : nil
  }
}
