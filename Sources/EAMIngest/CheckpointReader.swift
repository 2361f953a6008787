/// Reads untrusted checkpoint files into named f32 tensors without executing anything.
///
/// The container is recognised by content, not by extension:
/// - zip with a `*/data.pkl` member: PyTorch `torch.save` (1.6+);
/// - zip of `.npy` members: NumPy `.npz` (stored members only);
/// - a pickle starting with torch's magic number: PyTorch legacy format; any other pickle is read
///   as a plain pickled object;
/// - an 8-byte length followed by `{`: safetensors;
/// - `\x93NUMPY`: a single `.npy` array (named `array`).
public enum CheckpointReader {
  /// Reads the checkpoint at `path`. Errors are one line naming the file and the problem.
  public static func read(path: String, options: ReadOptions = ReadOptions()) throws(IngestError) -> Checkpoint {
    let bytes = try FileLoader.load(path)
    do throws(IngestError) {
      return try read(bytes: bytes, options: options)
    } catch {
      throw error.inFile(path)
    }
  }

  /// Reads a checkpoint already in memory.
  public static func read(bytes: [UInt8], options: ReadOptions = ReadOptions()) throws(IngestError) -> Checkpoint {
    var checkpoint = try container(bytes, options: options)
    try FiniteCheck.apply(to: &checkpoint, allow: options.allowNonFinite)
    return checkpoint
  }

  /// The tensors, by container.
  private static func container(_ bytes: [UInt8], options: ReadOptions) throws(IngestError) -> Checkpoint {
    if ZipArchive.looksLikeZip(bytes) {
      let zip = try ZipArchive(bytes)
      if let pickle = TorchZip.pickleEntry(zip) {
        return try TorchZip.read(zip, pickle: pickle, options: options)
      }
      if zip.entries.contains(where: { $0.name.hasSuffix(".npy") }) {
        return try NPY.readNPZ(zip, options: options)
      }
      throw IngestError("zip archive has neither a 'data.pkl' (PyTorch) nor '.npy' members (npz)")
    }
    if NPY.looksLikeNPY(bytes) {
      var materializer = Materializer(fileSize: bytes.count, options: options)
      let t = try NPY.decode(bytes, range: 0..<bytes.count, materializer: &materializer)
      return Checkpoint(names: ["array"], tensors: ["array": t], format: .npy, origin: "npy array")
    }
    // Before pickles: a safetensors header length may start with 0x80 (PROTO) too.
    if Safetensors.looksLikeSafetensors(bytes) {
      return try Safetensors.read(bytes, options: options)
    }
    if TorchLegacy.looksLikePickle(bytes) {
      return try TorchLegacy.read(bytes, options: options)
    }
    if bytes.isEmpty { throw IngestError("file is empty") }
    if let named = UnsupportedFormats.describe(bytes) { throw IngestError(named) }
    let head = bytes.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
    throw IngestError("unrecognised content (starts with \(head.joined(separator: " "))): not a PyTorch, safetensors or NumPy file")
  }
}
