/// Builds the `Checkpoint` from the chosen entries, materialising each tensor from its storage.
enum Assemble {
  typealias StorageLoader = (PStorage) throws(IngestError) -> StorageBytes

  static func checkpoint(_ selection: Unwrap.Selection, format: ContainerFormat, fileSize: Int,
                         options: ReadOptions, storage: StorageLoader) throws(IngestError) -> Checkpoint {
    var materializer = Materializer(fileSize: fileSize, options: options)
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
    var checkpoint = Checkpoint(names: names, tensors: tensors, format: format, origin: selection.origin,
                                ignored: selection.ignored)
    checkpoint.metadata = selection.metadata
    return checkpoint
  }

  /// A NumPy array pickled inside a checkpoint (`_reconstruct` + BUILD state).
  private static func ndarray(_ a: PNDArray, materializer: inout Materializer) throws(IngestError) -> Tensor {
    guard let dtype = a.dtype, let type = dtype.elementType else {
      throw IngestError("numpy array has an unsupported dtype \(a.dtype.map { quoted($0.descr) } ?? "(none)")")
    }
    // The budget before copying: several arrays may share one memoised bytes object.
    try materializer.check(a.data.count / type.size, shape: a.shape)
    let bytes = Array(a.data)
    let storage = StorageBytes(bytes: bytes, range: 0..<bytes.count, type: type, bigEndian: dtype.isBigEndian)
    return try NumPyLayout.tensor(shape: a.shape, fortranOrder: a.fortranOrder, storage: storage,
                                  materializer: &materializer)
  }
}
