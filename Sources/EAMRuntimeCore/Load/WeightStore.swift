import EAMFormat
import EAMKernels

/// A linear layer's weight as its GEMM reads it: panel-packed `[n][k]`, in the type the artifact
/// stores (FORMAT.md). One case per weight type, one GEMM entry point per case
/// (`Kernels.linear`).
enum PackedWeight {
  /// f32 panels: used in place from the mapped file (or widened once at load from f16 when
  /// `LoadOptions.widenF16`).
  case f32(UnsafePointer<Float>)
  /// binary16 panels, used in place and widened in registers (`Kernels.linearF16`): the same
  /// results as `.f32` of the widened weights, half the memory.
  case f16(UnsafePointer<UInt16>)
}

/// Typed views of an artifact's sections. Uncompressed f32 sections are used in place from the
/// memory map; f16 and compressed ones are converted once into owned buffers.
///
/// A weight's type has one source of truth, the manifest's `weights` list; each section's dtype
/// must agree with it.
final class WeightStore {
  let artifact: Artifact
  let verify: Bool
  /// Widen f16 linear weights to f32 at load instead of using them in place.
  let widenF16: Bool
  private var owned: [AlignedBuffer] = []
  private var ownedHalves: [UnsafeMutablePointer<UInt16>] = []
  private let declared: [String: Manifest.WeightType]
  /// Bytes of weights the store had to copy (not used in place).
  private(set) var copiedBytes = 0

  init(artifact: Artifact, verify: Bool, widenF16: Bool = false) {
    self.artifact = artifact
    self.verify = verify
    self.widenF16 = widenF16
    var declared: [String: Manifest.WeightType] = [:]
    for w in artifact.manifest.weights { declared[w.name] = w.type }
    self.declared = declared
  }

  deinit { for p in ownedHalves { p.deallocate() } }

  private func fail(_ message: String) -> RuntimeError { RuntimeError(message, path: artifact.path) }

  private func section(_ name: String) throws(RuntimeError) -> SectionInfo {
    guard let s = artifact.section(name) else { throw fail("section '" + name + "' is missing") }
    return s
  }

  /// The raw bytes of a u8 section of exactly `count` bytes (decompressed, checksum verified).
  func bytes(_ name: String, count: Int) throws(RuntimeError) -> [UInt8] {
    let s = try section(name)
    guard s.dtype == .u8, s.rawLength == count else {
      throw fail("section '\(name)' holds \(s.rawLength) \(s.dtype.name) bytes, expected \(count) u8")
    }
    do throws(FormatError) { return try artifact.rawBytes(s, verify: verify) } catch { throw RuntimeError(error) }
  }

  /// A linear layer's packed weight, checked to be `[n][k]` in panels, in its declared type.
  func packedWeight(_ name: String, n: Int, k: Int) throws(RuntimeError) -> PackedWeight {
    let s = try section(name)
    guard s.dtype == .f16, declared[name] == .f16, !widenF16, s.shape == [n, k], s.layout == .panelPacked else {
      return .f32(try floats(name, shape: [n, k], layout: .panelPacked))
    }
    let stored: UnsafeRawBufferPointer
    do throws(FormatError) { stored = try artifact.storedBytes(s, verify: verify) } catch { throw RuntimeError(error) }
    if s.compression == .none, let base = stored.baseAddress, Int(bitPattern: base) % 2 == 0 {
      return .f16(base.assumingMemoryBound(to: UInt16.self))
    }
    let raw: [UInt8]
    do throws(FormatError) { raw = try artifact.rawBytes(s, verify: false) } catch { throw RuntimeError(error) }
    let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, raw.count / 2))
    raw.withUnsafeBytes { src in
      for i in 0..<(raw.count / 2) { halves[i] = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) }
    }
    ownedHalves.append(halves)
    copiedBytes += raw.count
    return .f16(UnsafePointer(halves))
  }

  /// A float pointer to the section `name`, checked to have `shape` and `layout` and the float
  /// type the manifest declares for it.
  func floats(_ name: String, shape: [Int], layout: Layout = .rowMajor) throws(RuntimeError) -> UnsafePointer<Float> {
    let s = try section(name)
    guard s.shape == shape, s.layout == layout else {
      throw fail("section '\(name)' has shape \(Shape.text(s.shape)) (\(s.layout.name)), the manifest implies \(Shape.text(shape)) (\(layout.name))")
    }
    guard let type = declared[name] else { throw fail("section '\(name)' has no entry in the manifest's weight list") }
    guard (type == .f32 && s.dtype == .f32) || (type == .f16 && s.dtype == .f16) else {
      throw fail("section '\(name)' stores \(s.dtype.name), the manifest declares \(type.name); a float type is expected")
    }
    let stored: UnsafeRawBufferPointer
    do throws(FormatError) { stored = try artifact.storedBytes(s, verify: verify) } catch { throw RuntimeError(error) }
    let elements = s.rawLength / s.dtype.size
    if s.compression == .none, s.dtype == .f32, let base = stored.baseAddress, Int(bitPattern: base) % 4 == 0 {
      return base.assumingMemoryBound(to: Float.self)
    }
    let raw: [UInt8]
    do throws(FormatError) { raw = try artifact.rawBytes(s, verify: false) } catch { throw RuntimeError(error) }
    let buffer = AlignedBuffer(count: elements)
    raw.withUnsafeBytes { src in
      if s.dtype == .f32 {
        for i in 0..<elements { buffer.pointer[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
      } else {
        for i in 0..<elements { buffer.pointer[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) }
      }
    }
    owned.append(buffer)
    copiedBytes += elements * 4
    return UnsafePointer(buffer.pointer)
  }
}
