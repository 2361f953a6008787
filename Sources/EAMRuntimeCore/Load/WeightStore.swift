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
  /// int8 panels with per-column scales and code sums (`Kernels.linearInt8`); the layer's input
  /// is quantized per token at run time into the shared `codes` scratch.
  case int8(Int8Weight)
  /// int4 panels with binary16 scales per column and group (`Kernels.linearInt4`), f32 inputs.
  case int4(Int4Weight)
}

/// An int8 linear weight (FORMAT.md, "Quantized weights"), checked at load.
struct Int8Weight {
  let codes: UnsafePointer<Int8>
  let columnScales: UnsafePointer<Float>
  let columnSums: UnsafePointer<Int32>
  /// The activation codes of the layer's input, shared by every int8 layer of the model.
  let scratch: ActivationCodes
  /// Static activation quantization: the one input range of every row; nil: per row at run time.
  let range: (lo: Float, hi: Float)?

  /// Quantizes `rows` rows of the layer's input `x` to codes `0...codeMax`: per row, or with the
  /// static range.
  func quantize(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int, codeMax: Int, codes: UnsafeMutablePointer<UInt8>,
                ldq: Int, scales: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Int32>) {
    if let range {
      Kernels.quantizeRows(x: x, ldx: ldx, rows: rows, k: k, codeMax: codeMax, range: range, codes: codes, ldq: ldq,
                           scales: scales, zeros: zeros)
    } else {
      Kernels.quantizeRows(x: x, ldx: ldx, rows: rows, k: k, codeMax: codeMax, codes: codes, ldq: ldq, scales: scales, zeros: zeros)
    }
  }
}

/// An int4 linear weight (FORMAT.md, "Quantized weights"), checked at load.
struct Int4Weight {
  let codes: UnsafePointer<UInt8>
  let scales: UnsafePointer<UInt16>
  let group: Int
}

/// Per-token u8 codes of an int8 layer's input with their scales and zero points, grown on demand.
/// One per model: layers run one at a time.
final class ActivationCodes {
  private(set) var codes = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
  private(set) var scales = UnsafeMutablePointer<Float>.allocate(capacity: 1)
  private(set) var zeros = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
  private var codeCapacity = 1, rowCapacity = 1

  deinit {
    codes.deallocate()
    scales.deallocate()
    zeros.deallocate()
  }

  /// Room for `rows` rows of `ld` codes.
  func reserve(rows: Int, ld: Int) {
    let (count, overflow) = rows.multipliedReportingOverflow(by: ld)
    precondition(!overflow, "activation codes of \(rows) × \(ld)")
    if count > codeCapacity {
      codes.deallocate()
      codes = .allocate(capacity: count)
      codeCapacity = count
    }
    if rows > rowCapacity {
      scales.deallocate()
      zeros.deallocate()
      scales = .allocate(capacity: rows)
      zeros = .allocate(capacity: rows)
      rowCapacity = rows
    }
  }

  /// Bytes held.
  var bytes: Int { codeCapacity + 8 * rowCapacity }
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
  /// The manifest's entries of the quantized weights.
  private let quantized: [String: Manifest.Weight]
  /// Activation codes of every int8 layer.
  let activationCodes = ActivationCodes()
  private var ownedRaw: [UnsafeMutableRawPointer] = []
  /// Bytes of weights the store had to copy (not used in place).
  private(set) var copiedBytes = 0

  init(artifact: Artifact, verify: Bool, widenF16: Bool = false) {
    self.artifact = artifact
    self.verify = verify
    self.widenF16 = widenF16
    var declared: [String: Manifest.WeightType] = [:]
    var quantized: [String: Manifest.Weight] = [:]
    for w in artifact.manifest.weights {
      declared[w.name] = w.type
      if w.type == .int8 || w.type == .int4 { quantized[w.name] = w }
    }
    self.declared = declared
    self.quantized = quantized
  }

  deinit {
    for p in ownedHalves { p.deallocate() }
    for p in ownedRaw { p.deallocate() }
  }

  func fail(_ message: String) -> RuntimeError { RuntimeError(message, path: artifact.path) }

  /// Takes ownership of a copy of `bytes` bytes made at load.
  func keep(_ raw: UnsafeMutableRawPointer, bytes: Int) {
    ownedRaw.append(raw)
    copiedBytes += bytes
  }

  func section(_ name: String) throws(RuntimeError) -> SectionInfo {
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
    if let q = quantized[name] {
      return q.type == .int8 ? .int8(try int8Weight(q, n: n, k: k)) : .int4(try int4Weight(q, n: n, k: k))
    }
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
