/// A 64-byte-aligned float buffer owned by the runtime (activations, converted weights).
public final class AlignedBuffer: @unchecked Sendable {
  public let pointer: UnsafeMutablePointer<Float>
  public let count: Int

  public init(count: Int) {
    self.count = count
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
    pointer = raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 1))
  }

  deinit { pointer.deallocate() }
}
