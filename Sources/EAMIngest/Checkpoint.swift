/// A float tensor read from a checkpoint: row-major, materialised (views resolved), as f32.
public struct Tensor: Sendable, Equatable {
  /// Dimensions, outermost first. A scalar has `shape == []` and one value.
  public var shape: [Int]
  /// `shape.reduce(1, *)` values in row-major order.
  public var values: [Float]

  public init(shape: [Int], values: [Float]) {
    precondition(shape.reduce(1, *) == values.count, "shape does not match value count")
    self.shape = shape
    self.values = values
  }

  public var count: Int { values.count }
}

/// The container format a checkpoint was read from.
public enum ContainerFormat: String, Sendable {
  case torchZip = "PyTorch zip"
  case torchLegacy = "PyTorch legacy"
  case safetensors = "safetensors"
  case npz = "npz"
  case npy = "npy"
}

/// The weights found in a checkpoint file, in the order the file lists them.
public struct Checkpoint: Sendable {
  /// Tensor names with wrapper prefixes (`module.`, Lightning's `model.`/`net.`) removed, in the
  /// file's order. Names are unique.
  public var names: [String]
  /// The tensor for each name.
  public var tensors: [String: Tensor]
  /// The container it was read from.
  public var format: ContainerFormat
  /// Where the weights were found, for the user: "top-level state dict", "entry 'model_ema'",
  /// "entry 'state_dict' (prefix 'model.' removed)", ...
  public var origin: String
  /// Entries that were ignored (optimizer state, epoch, args, ...), for the user.
  public var ignored: [String]
  /// What the user should know about how the file was read: pickle globals kept inert, weights
  /// accepted despite non-finite values (`ReadOptions`).
  public var notes: [String]
  /// Settings saved beside the weights (`arch`, `args.model`, ...; `CheckpointMetadata`).
  public var metadata: [String: String] = [:]

  public init(names: [String], tensors: [String: Tensor], format: ContainerFormat,
              origin: String, ignored: [String] = [], notes: [String] = []) {
    self.names = names
    self.tensors = tensors
    self.format = format
    self.origin = origin
    self.ignored = ignored
    self.notes = notes
  }
}
