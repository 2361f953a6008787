/// Pre-1.6 `torch.save` files (and `_use_new_zipfile_serialization=False`): five pickles in a
/// row — magic number, protocol version, sys info, the object (storages as persistent ids), the
/// list of storage keys — then for each key a u64 element count and the raw elements.
enum TorchLegacy {
  /// 0x1950a86a20f9469cfc6c as pickled by LONG1: 10 little-endian bytes.
  static let magicBytes: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

  /// Whether `bytes` starts with a pickle (PROTO opcode; the protocol is checked when read).
  static func looksLikePickle(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 2 && bytes[0] == Opcode.proto
  }

  private static func isMagic(_ v: PValue) -> Bool {
    if case .bigInt(let b) = v { return b.elementsEqual(magicBytes) }
    return false
  }

  /// Reads a legacy torch file, or a plain pickle (which then has no storages).
  static func read(_ bytes: [UInt8], options: ReadOptions) throws(IngestError) -> Checkpoint {
    let storages = TorchStorages()
    let load: PickleMachine.PersistentLoad = { (pid: PValue) throws(IngestError) -> PValue in try storages.load(pid) }
    let unsafe = options.allowUnsafePickle
    var first = PickleMachine(bytes, what: "pickle", allowUnsafe: unsafe, persistentLoad: load)
    defer { first.arena.clear() }
    let head = try first.run()
    guard isMagic(head) else {
      // A plain pickle: the object itself (tensors inside would need storages, which it lacks).
      let noStorages: PickleMachine.PersistentLoad = { (_: PValue) throws(IngestError) -> PValue in
        throw IngestError("a plain pickle refers to a tensor storage, but no storages follow it")
      }
      var plain = PickleMachine(bytes, what: "pickle", allowUnsafe: unsafe, persistentLoad: noStorages)
      defer { plain.arena.clear() }
      let root = try plain.run()
      var selection = try Unwrap.select(root)
      selection.origin = "plain pickle, " + selection.origin
      var checkpoint = try Assemble.checkpoint(selection, format: .torchLegacy, fileSize: bytes.count, options: options) {
        (_: PStorage) throws(IngestError) -> StorageBytes in throw IngestError("no storages in a plain pickle")
      }
      checkpoint.notes += plain.notes
      return checkpoint
    }
    var position = first.endOffset
    func next(_ what: String) throws(IngestError) -> (PValue, PickleMachine) {
      var m = PickleMachine(bytes, range: position..<bytes.count, what: what, allowUnsafe: unsafe, persistentLoad: load)
      let v = try m.run()
      position += m.endOffset
      return (v, m)
    }
    let (protocolVersion, m1) = try next("protocol version pickle")
    defer { m1.arena.clear() }
    guard protocolVersion.int == 1001 else {
      throw IngestError("legacy torch file has protocol version \(protocolVersion.summary), expected 1001")
    }
    let (sysInfo, m2) = try next("sys info pickle")
    defer { m2.arena.clear() }
    // {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {...}}
    var bigEndian = false
    if case .dict(let info) = sysInfo, case .bool(let little)? = info["little_endian"] {
      bigEndian = !little
    }
    let (root, m3) = try next("object pickle")
    defer { m3.arena.clear() }
    let (keysValue, m4) = try next("storage keys pickle")
    defer { m4.arena.clear() }
    guard let keyItems = keysValue.items else {
      throw IngestError("legacy torch file: storage key list is a \(keysValue.summary)")
    }

    // The storages follow in key-list order: u64 count, then count × element size bytes.
    var ranges: [String: Range<Int>] = [:]
    var reader = ByteReader(bytes, range: position..<bytes.count, what: "legacy storage data")
    for item in keyItems {
      guard let key = item.string ?? item.int.map(String.init) else {
        throw IngestError("legacy torch file: storage key \(item.summary) is not a string")
      }
      guard let s = storages.byKey[key] else {
        throw IngestError("legacy torch file: storage \(quoted(key)) is listed but no tensor uses it")
      }
      var count = try reader.u64()
      if bigEndian { count = count.byteSwapped }
      guard count == UInt64(s.count) else {
        throw IngestError("legacy torch file: storage \(quoted(key)) has \(count) elements, the object says \(s.count)")
      }
      let (n, overflow) = s.count.multipliedReportingOverflow(by: s.type.size)
      guard !overflow, n <= reader.remaining else {
        throw IngestError("legacy torch file is truncated: storage \(quoted(key)) needs \(formatBytes(s.count &* s.type.size)), \(formatBytes(reader.remaining)) left")
      }
      ranges[key] = try reader.range(n)
    }
    let selection = try Unwrap.select(root)
    var checkpoint = try Assemble.checkpoint(selection, format: .torchLegacy, fileSize: bytes.count, options: options) {
      (s: PStorage) throws(IngestError) -> StorageBytes in
      guard let r = ranges[s.key] else { throw IngestError("storage \(quoted(s.key)) is not in the file") }
      return StorageBytes(bytes: bytes, range: r, type: s.type, bigEndian: bigEndian)
    }
    checkpoint.notes += [first, m1, m2, m3, m4].flatMap(\.notes)
    return checkpoint
  }
}
