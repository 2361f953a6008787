/// How strictly a checkpoint is read. The defaults refuse what a sound checkpoint never has.
public struct ReadOptions: Sendable {
  /// Most bytes the checkpoint's tensors may take once materialised as f32, all tensors
  /// together; nil: `defaultTensorBytes(fileSize:)`. A strided view can describe far more values
  /// than its file holds (stride 0 repeats one element); this bounds what a file can make the
  /// reader allocate, checked before allocating.
  public var maxTensorBytes: Int?
  /// Read weights that hold NaN or ±∞ (listed in `Checkpoint.notes`) instead of refusing the
  /// file: such a model is broken, its outputs are NaN.
  public var allowNonFinite: Bool
  /// Read pickles that name globals known to run code, start programs, touch files or the
  /// network, or load more pickles (`os.system`, `builtins.eval`, ...; docs/INGEST.md): they are
  /// kept inert (never called; listed in `Checkpoint.notes`) instead of refusing the file.
  public var allowUnsafePickle: Bool

  public init(maxTensorBytes: Int? = nil, allowNonFinite: Bool = false, allowUnsafePickle: Bool = false) {
    self.maxTensorBytes = maxTensorBytes
    self.allowNonFinite = allowNonFinite
    self.allowUnsafePickle = allowUnsafePickle
  }

  /// Fixed allowance on top of the per-byte budget, for small files with repeated views.
  public static let tensorAllowance = 4 << 20

  /// 4 bytes of f32 per file byte, plus 4 MiB. No element type is smaller than a byte, so the
  /// tensors of a file without repeating views fit in 4 bytes per file byte (f16 needs 2, f32 1);
  /// storages viewed twice still fit unless they are 8-bit.
  public static func defaultTensorBytes(fileSize: Int) -> Int {
    let (perByte, o1) = max(fileSize, 0).multipliedReportingOverflow(by: 4)
    let (total, o2) = perByte.addingReportingOverflow(tensorAllowance)
    return o1 || o2 ? Int.max : total
  }
}
