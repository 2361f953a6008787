/// Raw elements of one storage: a byte range of a loaded file.
struct StorageBytes {
  let bytes: [UInt8]
  let range: Range<Int>
  let type: DType
  let bigEndian: Bool

  var elementCount: Int { range.count / type.size }
}

/// Turns a strided view of a storage (offset, shape, strides in elements) into a row-major f32
/// `Tensor`. All arithmetic on file-controlled numbers is overflow-checked, the view must lie
/// inside the storage, and the total number of values produced by one file is limited by a
/// budget (`ReadOptions.maxTensorBytes`), checked before anything is allocated: stride-0 views
/// cannot blow up memory, and a sparse view costs its own size, not its span's.
struct Materializer {
  /// Values that may still be produced.
  private(set) var budget: Int
  /// The whole budget, for messages.
  let limit: String

  init(fileSize: Int, options: ReadOptions = ReadOptions()) {
    let bytes: Int
    if let explicit = options.maxTensorBytes {
      bytes = max(explicit, 0)
      limit = "the maxTensorBytes limit of \(formatBytes(bytes))"
    } else {
      bytes = ReadOptions.defaultTensorBytes(fileSize: fileSize)
      limit = "the limit of \(formatBytes(bytes)) for a \(formatBytes(fileSize)) file (4 bytes per file byte + 4 MiB)"
    }
    budget = bytes / 4
  }

  /// Takes `count` values out of the budget, or says why not.
  mutating func charge(_ count: Int, shape: [Int]) throws(IngestError) {
    try check(count, shape: shape)
    budget -= count
  }

  /// Whether `count` more values fit in the budget.
  func check(_ count: Int, shape: [Int]) throws(IngestError) {
    guard count <= budget else {
      let asked = count.multipliedReportingOverflow(by: 4)
      let size = asked.overflow ? "more than \(formatBytes(Int.max))" : formatBytes(asked.partialValue)
      throw IngestError("shape \(shape) (\(count) values, \(size) as float32) would take the checkpoint's tensors past \(limit)")
    }
  }

  /// Most dimensions a tensor may have (NumPy's and PyTorch's own limit).
  static let maxRank = 64

  mutating func tensor(offset: Int, shape: [Int], strides: [Int], storage: StorageBytes)
    throws(IngestError) -> Tensor
  {
    guard shape.count <= Self.maxRank else {
      throw IngestError("tensor has \(shape.count) dimensions (at most \(Self.maxRank))")
    }
    guard shape.count == strides.count, offset >= 0 else {
      throw IngestError("shape \(shape) and strides \(strides) do not match")
    }
    var count = 1
    var last = offset  // Highest element index the view touches.
    for (d, s) in zip(shape, strides) {
      guard d >= 0, s >= 0 else { throw IngestError("negative size or stride in \(shape)/\(strides)") }
      let (c, o1) = count.multipliedReportingOverflow(by: d)
      guard !o1 else { throw IngestError("shape \(shape) has too many elements") }
      count = c
      if d > 0 {
        let (span, o2) = (d - 1).multipliedReportingOverflow(by: s)
        let (l, o3) = last.addingReportingOverflow(span)
        guard !o2, !o3 else { throw IngestError("shape \(shape) with strides \(strides) overflows") }
        last = l
      }
    }
    if count == 0 { return Tensor(shape: shape, values: []) }
    guard last < storage.elementCount else {
      throw IngestError("view (offset \(offset), shape \(shape), strides \(strides)) reaches element \(last) but the storage has only \(storage.elementCount)")
    }
    try charge(count, shape: shape)

    let size = storage.type.size
    let base = storage.range.lowerBound + offset * size
    if isRowMajor(shape: shape, strides: strides) {
      let values = Convert.floats(storage.bytes, offset: base, count: count, type: storage.type,
                                  bigEndian: storage.bigEndian)
      return Tensor(shape: shape, values: values)
    }
    // General view: gather the viewed elements' bytes (count × size, within the budget), then
    // convert them once.
    let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
    guard !overflow else { throw IngestError("tensor of shape \(shape) has too many elements") }
    var gathered = [UInt8](repeating: 0, count: byteCount)
    var index = [Int](repeating: 0, count: shape.count)
    var source = 0  // Element offset from `base`.
    storage.bytes.withUnsafeBytes { src in
      gathered.withUnsafeMutableBytes { dst in
        for i in 0..<count {
          (dst.baseAddress! + i * size).copyMemory(from: src.baseAddress! + base + source * size, byteCount: size)
          // Odometer increment over the multi-index, innermost dimension fastest.
          var dim = shape.count - 1
          while dim >= 0 {
            index[dim] += 1
            source += strides[dim]
            if index[dim] < shape[dim] { break }
            source -= strides[dim] * shape[dim]
            index[dim] = 0
            dim -= 1
          }
        }
      }
    }
    let values = Convert.floats(gathered, offset: 0, count: count, type: storage.type, bigEndian: storage.bigEndian)
    return Tensor(shape: shape, values: values)
  }

  private func isRowMajor(shape: [Int], strides: [Int]) -> Bool {
    var expected = 1
    for dim in stride(from: shape.count - 1, through: 0, by: -1) {
      if shape[dim] != 1 && strides[dim] != expected { return false }
      expected *= shape[dim]
    }
    return true
  }
}
