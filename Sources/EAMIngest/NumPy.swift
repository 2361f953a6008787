/// NumPy `.npy` files (format versions 1–3) and `.npz` archives of them.
public enum NPY {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  static func looksLikeNPY(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 6 && bytes[0..<6].elementsEqual(magic)
  }

  /// Reads a `.npy` file into a tensor (any supported dtype, either byte order, C or Fortran order).
  public static func read(path: String) throws(IngestError) -> Tensor {
    let bytes = try FileLoader.load(path)
    do throws(IngestError) {
      return try decode(bytes, range: 0..<bytes.count)
    } catch {
      throw error.inFile(path)
    }
  }

  /// Decodes `.npy` bytes already in memory.
  public static func decode(_ bytes: [UInt8]) throws(IngestError) -> Tensor {
    try decode(bytes, range: 0..<bytes.count)
  }

  /// Encodes a tensor as a version 1.0 `.npy` file: `<f4`, C order.
  public static func encode(_ t: Tensor) -> [UInt8] {
    let shapeText: String
    switch t.shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(t.shape[0]),)"
    default: shapeText = "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
    }
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
    // Pad so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var out = magic + [1, 0]
    let n = header.utf8.count
    out += [UInt8(n & 0xFF), UInt8(n >> 8)]
    out += Array(header.utf8)
    t.values.withUnsafeBytes { raw in
      out.append(contentsOf: raw)  // Little-endian hosts only (x86-64, arm64).
    }
    return out
  }

  /// Decodes the `.npy` data in `range` of `bytes`.
  static func decode(_ bytes: [UInt8], range: Range<Int>) throws(IngestError) -> Tensor {
    var materializer = Materializer(fileSize: bytes.count)
    return try decode(bytes, range: range, materializer: &materializer)
  }

  /// Decodes the `.npy` data in `range` of `bytes`, its values taken from `materializer`'s budget.
  static func decode(_ bytes: [UInt8], range: Range<Int>, materializer: inout Materializer) throws(IngestError) -> Tensor {
    var r = ByteReader(bytes, range: range, what: "npy data")
    guard r.remaining >= 6, try r.take(6).elementsEqual(magic) else {
      throw IngestError("not an npy file (no \\x93NUMPY magic)")
    }
    let major = try r.u8()
    _ = try r.u8()
    let headerLength: Int
    switch major {
    case 1: headerLength = Int(try r.u16())
    case 2, 3: headerLength = try r.length(try r.u32())
    default: throw IngestError("unsupported npy format version \(major)")
    }
    guard headerLength <= r.remaining else {
      throw IngestError("npy header length \(formatBytes(headerLength)) exceeds the \(formatBytes(r.remaining)) left")
    }
    let headerBytes = try r.take(headerLength)
    let header = try NPYHeader(parsing: headerBytes)
    let dataRange = r.position..<r.end
    var count = 1
    for d in header.shape {
      let (c, o) = count.multipliedReportingOverflow(by: d)
      guard !o else { throw IngestError("npy shape \(header.shape) has too many elements") }
      count = c
    }
    let (needed, o) = count.multipliedReportingOverflow(by: header.type.size)
    guard !o, needed <= dataRange.count else {
      throw IngestError("npy data is truncated: shape \(header.shape) of \(header.descr) needs \(formatBytes(count &* header.type.size)), only \(formatBytes(dataRange.count)) present")
    }
    let storage = StorageBytes(bytes: bytes, range: dataRange.lowerBound..<(dataRange.lowerBound + needed),
                               type: header.type, bigEndian: header.bigEndian)
    return try NumPyLayout.tensor(shape: header.shape, fortranOrder: header.fortranOrder,
                                  storage: storage, materializer: &materializer)
  }

  /// Reads an `.npz` archive: each stored `name.npy` member becomes tensor `name`.
  static func readNPZ(_ zip: ZipArchive, options: ReadOptions) throws(IngestError) -> Checkpoint {
    var materializer = Materializer(fileSize: zip.bytes.count, options: options)
    var names: [String] = []
    var tensors: [String: Tensor] = [:]
    var ignored: [String] = []
    for entry in zip.entries {
      guard entry.name.hasSuffix(".npy") else {
        ignored.append("member \(quoted(entry.name))")
        continue
      }
      let name = String(entry.name.dropLast(4))
      do throws(IngestError) {
        let range = try zip.data(of: entry)
        let t = try decode(zip.bytes, range: range, materializer: &materializer)
        if tensors[name] == nil { names.append(name) }
        tensors[name] = t
      } catch {
        if !entry.isStored {
          throw IngestError("\(error.problem) (save with np.savez, not np.savez_compressed)")
        }
        if error.problem.hasPrefix("zip entry") { throw error }
        throw error.within("npz member \(quoted(entry.name))")
      }
    }
    guard !names.isEmpty else { throw IngestError("npz archive has no .npy members") }
    return Checkpoint(names: names, tensors: tensors, format: .npz, origin: "npz members", ignored: ignored)
  }
}

/// Row-major or column-major NumPy data → row-major tensor.
enum NumPyLayout {
  static func tensor(shape: [Int], fortranOrder: Bool, storage: StorageBytes,
                     materializer: inout Materializer) throws(IngestError) -> Tensor {
    var strides = [Int](repeating: 1, count: shape.count)
    var step = 1
    let dims = Array(0..<shape.count)
    for dim in (fortranOrder ? dims : dims.reversed()) {
      strides[dim] = step
      let (s, o) = step.multipliedReportingOverflow(by: max(shape[dim], 1))
      guard !o else { throw IngestError("shape \(shape) has too many elements") }
      step = s
    }
    return try materializer.tensor(offset: 0, shape: shape, strides: strides, storage: storage)
  }
}
