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
