/// `torch.save` zip checkpoints: `<folder>/data.pkl` (the object), `<folder>/data/<key>` (one
/// stored member per storage) and `<folder>/byteorder` (`little` or `big`; absent means little).
enum TorchZip {
  /// Whether the archive looks like a torch checkpoint (it has a `data.pkl`).
  static func pickleEntry(_ zip: ZipArchive) -> ZipEntry? {
    zip.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
      .min { $0.name.count < $1.name.count }
  }

  static func read(_ zip: ZipArchive, pickle: ZipEntry, options: ReadOptions) throws(IngestError) -> Checkpoint {
    if let packed = zip.entries.first(where: { !$0.isStored && $0.name.hasPrefix(pickle.name.dropLast(8)) }) {
      throw IngestError("zip entry \(quoted(packed.name)) is \(ZipEntry.methodName(packed.method)); torch.save writes stored entries, so the archive was re-compressed (only stored entries can be read)")
    }
    let prefix = String(pickle.name.dropLast("data.pkl".count))
    var byName: [String: ZipEntry] = [:]
    for e in zip.entries { byName[e.name] = e }

    var bigEndian = false
    if let order = byName[prefix + "byteorder"] {
      let r = try zip.data(of: order)
      let text = String(decoding: zip.bytes[r], as: UTF8.self).trimmingSpaces()
      switch text {
      case "little": bigEndian = false
      case "big": bigEndian = true
      default: throw IngestError("\(quoted(order.name)) says \(quoted(text)), expected 'little' or 'big'")
      }
    }

    let storages = TorchStorages()
    let range = try zip.data(of: pickle)
    var machine = PickleMachine(zip.bytes, range: range, what: pickle.name, allowUnsafe: options.allowUnsafePickle,
                                persistentLoad: { (pid: PValue) throws(IngestError) -> PValue in try storages.load(pid) })
    defer { machine.arena.clear() }
    let root = try machine.run()
    let selection = try Unwrap.select(root)
    var checkpoint = try Assemble.checkpoint(selection, format: .torchZip, fileSize: zip.bytes.count, options: options) {
      (s: PStorage) throws(IngestError) -> StorageBytes in
      let name = prefix + "data/" + s.key
      guard let entry = byName[name] else {
        throw IngestError("storage \(quoted(s.key)) has no archive member \(quoted(name))")
      }
      let r = try zip.data(of: entry)
      let (needed, overflow) = s.count.multipliedReportingOverflow(by: s.type.size)
      guard !overflow, needed <= r.count else {
        throw IngestError("storage \(quoted(s.key)) declares \(s.count) \(s.type.rawValue) elements but \(quoted(name)) holds only \(formatBytes(r.count))")
      }
      return StorageBytes(bytes: zip.bytes, range: r.lowerBound..<(r.lowerBound + needed), type: s.type,
                          bigEndian: bigEndian)
    }
    checkpoint.notes += machine.notes
    return checkpoint
  }
}

extension String {
  func trimmingSpaces() -> String {
    let scalars = unicodeScalars
    let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "\0" }
    guard let first = scalars.firstIndex(where: { !isSpace($0) }),
          let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(scalars[first...last])
  }
}
