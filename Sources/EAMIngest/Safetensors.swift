/// safetensors files: u64 little-endian header length N, N bytes of JSON, then the data buffer.
///
/// Validated as the format requires: N is at most 100 MB and inside the file; the header is a
/// JSON object (optionally with `__metadata__`, a string→string map); every tensor has a known
/// dtype, a shape and `data_offsets` [begin, end] relative to the buffer; shape × element size
/// equals end − begin; tensors sorted by offset cover the buffer exactly, without gaps or
/// overlaps.
enum Safetensors {
  static let maxHeaderLength: UInt64 = 100_000_000

  static func looksLikeSafetensors(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 9 && bytes[8] == UInt8(ascii: "{")
  }

  private struct Entry {
    var name: String
    var type: DType
    var shape: [Int]
    var begin: Int
    var end: Int
  }

  static func read(_ bytes: [UInt8], options: ReadOptions) throws(IngestError) -> Checkpoint {
    guard let n = bytes.readU64(at: 0) else { throw IngestError("safetensors file is shorter than its 8-byte header length") }
    let available = UInt64(bytes.count - 8)
    guard n <= available else {
      throw IngestError("safetensors header length \(formatBytes(n)) exceeds the file size \(formatBytes(bytes.count))")
    }
    guard n <= maxHeaderLength else {
      throw IngestError("safetensors header length \(formatBytes(n)) exceeds the 100 MB limit")
    }
    let headerEnd = 8 + Int(n)
    let json = try JSON.parse(bytes[8..<headerEnd])
    guard let members = json.object else { throw IngestError("safetensors header is not a JSON object") }
    let dataSize = bytes.count - headerEnd

    var entries: [Entry] = []
    var ignored: [String] = []
    for member in members {
      let name = member.key, value = member.value
      if name == "__metadata__" {
        guard let meta = value.object, meta.allSatisfy({ $0.value.string != nil }) else {
          throw IngestError("safetensors '__metadata__' must map strings to strings")
        }
        if !meta.isEmpty { ignored.append("__metadata__ (\(meta.count) entries)") }
        continue
      }
      entries.append(try entry(name, value, dataSize: dataSize))
    }

    // Offsets sorted must tile the buffer: no gaps, no overlaps, nothing left over.
    let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var expected = 0
    for e in sorted {
      guard e.begin == expected else {
        if e.begin < expected {
          throw IngestError("safetensors tensor \(quoted(e.name)) at bytes \(e.begin)..<\(e.end) overlaps the previous tensor (which ends at \(expected))")
        }
        throw IngestError("safetensors data has a gap at bytes \(expected)..<\(e.begin) before tensor \(quoted(e.name))")
      }
      expected = e.end
    }
    guard expected == dataSize else {
      throw IngestError("safetensors tensors cover \(formatBytes(expected)) of the \(formatBytes(dataSize)) data buffer")
    }

    var materializer = Materializer(fileSize: bytes.count, options: options)
    var names: [String] = []
    var tensors: [String: Tensor] = [:]
    for e in entries {
      let storage = StorageBytes(bytes: bytes, range: (headerEnd + e.begin)..<(headerEnd + e.end),
                                 type: e.type, bigEndian: false)
      var strides = [Int](repeating: 1, count: e.shape.count)
      var step = 1
      for dim in stride(from: e.shape.count - 1, through: 0, by: -1) {
        strides[dim] = step
        step = step &* max(e.shape[dim], 1)  // Product already checked in entry().
      }
      do throws(IngestError) {
        tensors[e.name] = try materializer.tensor(offset: 0, shape: e.shape, strides: strides, storage: storage)
      } catch {
        throw error.within("safetensors tensor \(quoted(e.name))")
      }
      names.append(e.name)
    }
    return Checkpoint(names: names, tensors: tensors, format: .safetensors, origin: "safetensors tensors",
                      ignored: ignored)
  }

  private static func entry(_ name: String, _ value: JSON, dataSize: Int) throws(IngestError) -> Entry {
    let what = "safetensors tensor \(quoted(name))"
    guard value.object != nil else { throw IngestError("\(what) is not a JSON object") }
    guard let dtypeName = value["dtype"]?.string else { throw IngestError("\(what) has no 'dtype' string") }
    guard let type = DType.safetensors(dtypeName) else {
      throw IngestError("\(what) has dtype \(quoted(dtypeName)), which is not supported (F32, F16, BF16, F64, integer and BOOL types are)")
    }
    guard let shapeItems = value["shape"]?.array else { throw IngestError("\(what) has no 'shape' list") }
    guard shapeItems.count <= Materializer.maxRank else {
      throw IngestError("\(what) has \(shapeItems.count) dimensions (at most \(Materializer.maxRank))")
    }
    var shape: [Int] = []
    var count = 1
    for item in shapeItems {
      guard let d = item.nonNegativeInt else { throw IngestError("\(what) has a shape entry that is not a non-negative integer") }
      let (c, o) = count.multipliedReportingOverflow(by: d)
      guard !o else { throw IngestError("\(what) shape \(shape) has too many elements") }
      count = c
      shape.append(d)
    }
    guard let offsets = value["data_offsets"]?.array, offsets.count == 2,
          let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt else {
      throw IngestError("\(what) needs 'data_offsets' [begin, end] of non-negative integers")
    }
    guard begin <= end, end <= dataSize else {
      throw IngestError("\(what) data_offsets [\(begin), \(end)] lie outside the \(formatBytes(dataSize)) data buffer")
    }
    let (bytes, o) = count.multipliedReportingOverflow(by: type.size)
    guard !o, bytes == end - begin else {
      throw IngestError("\(what) has shape \(shape) of \(dtypeName) (\(o ? "too many" : String(bytes)) bytes) but data_offsets span \(end - begin) bytes")
    }
    for key in (value.object ?? []).map(\.key) where !["dtype", "shape", "data_offsets"].contains(key) {
      throw IngestError("\(what) has an unknown field \(quoted(key))")
    }
    return Entry(name: name, type: type, shape: shape, begin: begin, end: end)
  }
}
