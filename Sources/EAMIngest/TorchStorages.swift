/// PyTorch's persistent ids: `('storage', storage_type, key, location, numel[, view_metadata])`.
/// Each key becomes one `PStorage`, shared by all tensors that view it.
final class TorchStorages {
  private(set) var byKey: [String: PStorage] = [:]
  /// Keys in first-use order.
  private(set) var order: [String] = []

  /// The `persistent_load` of the restricted machine.
  func load(_ pid: PValue) throws(IngestError) -> PValue {
    guard let items = pid.items, items.count >= 5, items[0].string == "storage" else {
      throw IngestError("persistent id \(pid.summary) is not a ('storage', type, key, location, size) tuple")
    }
    guard let type = Globals.storageType(items[1]) else {
      throw IngestError("persistent id names an unknown storage type (\(items[1].summary))")
    }
    guard let key = items[2].string ?? items[2].int.map(String.init) else {
      throw IngestError("persistent id has a non-string storage key")
    }
    guard let count = items[4].int, count >= 0 else {
      throw IngestError("persistent id for storage \(quoted(key)) has a bad size")
    }
    let root = try storage(key: key, type: type, count: count)
    // Legacy storage views: (view_key, offset, view_size).
    if items.count > 5, let view = items[5].items {
      guard view.count == 3,
            let offset = view[1].int, let size = view[2].int, offset >= 0, size >= 0,
            offset <= root.count, size <= root.count - offset else {
        throw IngestError("persistent id for storage \(quoted(key)) has a bad view")
      }
      return .storage(PStorage(key: root.key, type: type, count: size, elementOffset: offset))
    }
    return .storage(root)
  }

  private func storage(key: String, type: DType, count: Int) throws(IngestError) -> PStorage {
    if let s = byKey[key] {
      guard s.type == type, s.count == count else {
        throw IngestError("storage \(quoted(key)) is declared twice with different types or sizes")
      }
      return s
    }
    let s = PStorage(key: key, type: type, count: count)
    byKey[key] = s
    order.append(key)
    return s
  }
}

/// Builds the `Checkpoint` from the chosen entries, materialising each tensor from its storage.
enum Assemble {
  typealias StorageLoader = (PStorage) throws(IngestError) -> StorageBytes

  static func checkpoint(_ selection: Unwrap.Selection, format: ContainerFormat, fileSize: Int,
                         storage: StorageLoader) throws(IngestError) -> Checkpoint {
    var materializer = Materializer(fileSize: fileSize)
    var names: [String] = []
    var tensors: [String: Tensor] = [:]
    var cache: [ObjectIdentifier: StorageBytes] = [:]
    for (name, value) in selection.entries {
      do throws(IngestError) {
        let tensor: Tensor
        switch value {
        case .tensor(let t):
          let s: StorageBytes
          if let cached = cache[ObjectIdentifier(t.storage)] {
            s = cached
          } else {
            s = try storage(t.storage)
            cache[ObjectIdentifier(t.storage)] = s
          }
          let (offset, overflow) = t.offset.addingReportingOverflow(t.storage.elementOffset)
          guard !overflow else { throw IngestError("storage offset overflows") }
          tensor = try materializer.tensor(offset: offset, shape: t.shape, strides: t.strides, storage: s)
        case .ndarray(let a):
          tensor = try ndarray(a, materializer: &materializer)
        default:
          continue
        }
        if tensors[name] == nil { names.append(name) }
        tensors[name] = tensor
      } catch {
        throw error.within("tensor \(quoted(name))")
      }
    }
    return Checkpoint(names: names, tensors: tensors, format: format, origin: selection.origin,
                      ignored: selection.ignored)
  }

  /// A NumPy array pickled inside a checkpoint (`_reconstruct` + BUILD state).
  private static func ndarray(_ a: PNDArray, materializer: inout Materializer) throws(IngestError) -> Tensor {
    guard let dtype = a.dtype, let type = dtype.elementType else {
      throw IngestError("numpy array has an unsupported dtype \(a.dtype.map { quoted($0.descr) } ?? "(none)")")
    }
    let bytes = Array(a.data)
    let storage = StorageBytes(bytes: bytes, range: 0..<bytes.count, type: type, bigEndian: dtype.isBigEndian)
    return try NumPyLayout.tensor(shape: a.shape, fortranOrder: a.fortranOrder, storage: storage,
                                  materializer: &materializer)
  }
}
