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
/// inside the storage, and the total number of values produced is limited by a budget derived
/// from the file size (stride-0 views cannot blow up memory).
struct Materializer {
  /// Values that may still be produced.
  var budget: Int

  init(fileSize: Int) {
    // 8 floats per file byte is far more than any real checkpoint needs (f16 → f32 is 2).
    let (b, overflow) = fileSize.multipliedReportingOverflow(by: 8)
    budget = overflow ? Int.max : b + (1 << 20)
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
    guard count <= budget else {
      throw IngestError("tensor of shape \(shape) needs more values than the file could describe")
    }
    budget -= count

    let size = storage.type.size
    if isRowMajor(shape: shape, strides: strides) {
      let values = Convert.floats(storage.bytes, offset: storage.range.lowerBound + offset * size,
                                  count: count, type: storage.type, bigEndian: storage.bigEndian)
      return Tensor(shape: shape, values: values)
    }
    // General view: convert the touched span once, then gather.
    let span = Convert.floats(storage.bytes, offset: storage.range.lowerBound + offset * size,
                              count: last - offset + 1, type: storage.type, bigEndian: storage.bigEndian)
    var values = [Float](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: shape.count)
    var source = 0
    for i in 0..<count {
      values[i] = span[source]
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
