import EAMFormat

/// Float pointers to an artifact's sections. Uncompressed f32 sections are used in place from
/// the memory map; f16, bf16 and compressed ones are converted once into owned buffers.
final class WeightStore {
  let artifact: Artifact
  let verify: Bool
  private var owned: [AlignedBuffer] = []
  /// Bytes of weights the store had to copy (not used in place).
  private(set) var copiedBytes = 0

  init(artifact: Artifact, verify: Bool) {
    self.artifact = artifact
    self.verify = verify
  }

  /// The section's logical shape.
  func shape(_ name: String) throws(RuntimeError) -> [Int] {
    guard let s = artifact.section(name) else { throw RuntimeError("section '\(name)' is missing", path: artifact.path) }
    return s.shape
  }

  func has(_ name: String) -> Bool { artifact.section(name) != nil }

  /// The raw bytes of a u8 section of exactly `count` bytes (decompressed, checksum verified).
  func bytes(_ name: String, count: Int) throws(RuntimeError) -> [UInt8] {
    guard let s = artifact.section(name) else { throw RuntimeError("section '\(name)' is missing", path: artifact.path) }
    guard s.dtype == .u8, s.rawLength == count else {
      throw RuntimeError("section '\(name)' holds \(s.rawLength) \(s.dtype.name) bytes, expected \(count) u8", path: artifact.path)
    }
    do throws(FormatError) { return try artifact.rawBytes(s, verify: verify) } catch { throw RuntimeError(error) }
  }

  /// A float pointer to the section `name`, checked to have `shape` and `layout`.
  func floats(_ name: String, shape: [Int], layout: Layout = .rowMajor) throws(RuntimeError) -> UnsafePointer<Float> {
    guard let s = artifact.section(name) else { throw RuntimeError("section '\(name)' is missing", path: artifact.path) }
    guard s.shape == shape, s.layout == layout else {
      throw RuntimeError("section '\(name)' has shape \(s.shape) (\(s.layout)), the manifest implies \(shape) (\(layout))", path: artifact.path)
    }
    guard s.dtype == .f32 || s.dtype == .f16 || s.dtype == .bf16 else {
      throw RuntimeError("section '\(name)' has dtype \(s.dtype.name), expected a float type", path: artifact.path)
    }
    let stored: UnsafeRawBufferPointer
    do throws(FormatError) { stored = try artifact.storedBytes(s, verify: verify) } catch { throw RuntimeError(error) }
    let elements = s.rawLength / s.dtype.size
    if s.compression == .none, s.dtype == .f32, let base = stored.baseAddress,
       Int(bitPattern: base) % 4 == 0 {
      return base.assumingMemoryBound(to: Float.self)
    }
    let raw: [UInt8]
    do throws(FormatError) { raw = try artifact.rawBytes(s, verify: false) } catch { throw RuntimeError(error) }
    let buffer = AlignedBuffer(count: elements)
    raw.withUnsafeBytes { src in
      switch s.dtype {
      case .f32:
        for i in 0..<elements { buffer.pointer[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
      case .f16:
        for i in 0..<elements { buffer.pointer[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) }
      case .bf16:
        for i in 0..<elements {
          let bits = UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
          buffer.pointer[i] = Float(bitPattern: bits)
        }
      default:
        break
      }
    }
    owned.append(buffer)
    copiedBytes += elements * 4
    return UnsafePointer(buffer.pointer)
  }
}
