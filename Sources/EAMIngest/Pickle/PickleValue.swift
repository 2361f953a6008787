/// A value on the restricted pickle machine's stack. Nothing in it is executable: globals are
/// names, and calls to allowed globals have been interpreted into plain values.
enum PValue {
  case none
  case bool(Bool)
  case int(Int)
  /// An integer too wide for Int (LONG1/LONG4): its little-endian two's-complement bytes.
  case bigInt(ArraySlice<UInt8>)
  case float(Double)
  case string(String)
  case bytes(ArraySlice<UInt8>)
  case list(PList)
  case tuple(PList)
  case set(PList)
  case dict(PDict)
  /// A reference to a class or function by name (not yet called).
  case global(PGlobal)
  /// An instance of a global: either interpreted (`argparse.Namespace`, `builtins.slice`) or an
  /// inert placeholder for a global that is not allowed.
  case object(PObject)
  case storage(PStorage)
  case tensor(PTensor)
  case ndarray(PNDArray)
  case dtype(PNumpyDType)

  /// Nesting depth of containers below (and including) this value.
  var depth: Int {
    switch self {
    case .list(let c), .tuple(let c), .set(let c): c.depth
    case .dict(let d): d.depth
    default: 0
    }
  }

  var string: String? { if case .string(let s) = self { s } else { nil } }
  var int: Int? {
    switch self {
    case .int(let i): i
    case .bool(let b): b ? 1 : 0
    default: nil
    }
  }
  /// Items of a tuple or list.
  var items: [PValue]? {
    switch self {
    case .tuple(let t), .list(let t): t.items
    default: nil
    }
  }

  /// The placeholder (disallowed global) this value is, if it is one.
  var placeholder: PObject? {
    if case .object(let o) = self, o.isPlaceholder { o } else { nil }
  }

  /// A short description for messages and `Checkpoint.ignored`.
  var summary: String {
    switch self {
    case .none: "None"
    case .bool(let b): b ? "True" : "False"
    case .int(let i): "int \(i)"
    case .bigInt: "int"
    case .float(let f): "float \(f)"
    case .string(let s): "str \(quoted(s, limit: 40))"
    case .bytes(let b): "bytes (\(b.count))"
    case .list(let l): "list of \(l.items.count)"
    case .tuple(let t): "tuple of \(t.items.count)"
    case .set(let s): "set of \(s.items.count)"
    case .dict(let d): "dict of \(d.count)"
    case .global(let g): "reference to '\(g.qualifiedName)'"
    case .object(let o): o.isPlaceholder ? "object of disallowed '\(o.global.qualifiedName)'" : o.global.qualifiedName
    case .storage: "storage"
    case .tensor(let t): "tensor \(t.shape)"
    case .ndarray(let a): "numpy array \(a.shape)"
    case .dtype(let d): "numpy dtype \(d.descr)"
    }
  }
}

/// Depth limit for nested containers (checked as they are filled).
let maxPickleDepth = 200

/// Every container the machine creates, so they can all be emptied at the end: this breaks
/// reference cycles (a list appended to itself) and prevents a deeply nested chain from being
/// released recursively.
final class PickleArena {
  fileprivate var objects: [PContainer] = []

  func register<T: PContainer>(_ object: T) -> T {
    objects.append(object)
    return object
  }

  /// Empties every container; call when done with all values from this machine.
  func clear() {
    for o in objects { o.clear() }
    objects.removeAll()
  }

  deinit { clear() }
}

protocol PContainer: AnyObject {
  func clear()
}

/// A list, tuple or set (reference semantics: the memo and the stack share it).
final class PList: PContainer {
  var items: [PValue]
  var depth: Int = 1

  init(_ items: [PValue] = []) throws(IngestError) {
    self.items = []
    try append(contentsOf: items)
  }

  func append(_ v: PValue) throws(IngestError) {
    let d = v.depth + 1
    if d > depth {
      guard d <= maxPickleDepth else { throw IngestError("pickle nests containers deeper than \(maxPickleDepth) levels") }
      depth = d
    }
    items.append(v)
  }

  func append(contentsOf vs: [PValue]) throws(IngestError) {
    for v in vs { try append(v) }
  }

  func clear() { items.removeAll() }
}

/// A dict (or OrderedDict), keeping insertion order. String keys are unique.
final class PDict: PContainer {
  private(set) var keys: [PValue] = []
  private(set) var values: [PValue] = []
  private var stringIndex: [String: Int] = [:]
  var depth: Int = 1

  var count: Int { keys.count }

  func set(_ key: PValue, _ value: PValue) throws(IngestError) {
    let d = max(key.depth, value.depth) + 1
    if d > depth {
      guard d <= maxPickleDepth else { throw IngestError("pickle nests containers deeper than \(maxPickleDepth) levels") }
      depth = d
    }
    if case .string(let s) = key {
      if let i = stringIndex[s] {
        values[i] = value
        return
      }
      stringIndex[s] = keys.count
    }
    keys.append(key)
    values.append(value)
  }

  subscript(_ key: String) -> PValue? {
    guard let i = stringIndex[key] else { return nil }
    return values[i]
  }

  func clear() {
    keys.removeAll()
    values.removeAll()
    stringIndex.removeAll()
  }
}

/// A global (`module.name`) named by GLOBAL or STACK_GLOBAL, with where it was named.
struct PGlobal {
  var module: String
  var name: String
  var opcode: UInt8
  var offset: Int

  /// Protocol 0–2 pickles written by Python 3 use Python 2 module names; like Python's unpickler
  /// (`fix_imports`), they are mapped to their Python 3 names.
  init(module: String, name: String, opcode: UInt8, offset: Int) {
    switch module {
    case "__builtin__", "exceptions": self.module = "builtins"
    case "copy_reg": self.module = "copyreg"
    case "commands": self.module = "subprocess"
    case "cPickle": self.module = "pickle"
    default: self.module = module
    }
    self.name = name
    self.opcode = opcode
    self.offset = offset
  }

  var qualifiedName: String { "\(module).\(name)" }

  /// For errors: "pickle opcode 0x93 (STACK_GLOBAL) at offset 812 refers to global 'os.system',
  /// which is not allowed".
  var notAllowedMessage: String {
    let hex = "0x" + String(opcode, radix: 16)
    return "pickle opcode \(hex) (\(Opcode.name(opcode))) at offset \(offset) refers to global '\(qualifiedName)', which is not allowed"
  }
}

/// An instance built from a global. For a disallowed global it is an inert placeholder that only
/// remembers the global's name; calling it, building it or adding items to it does nothing.
final class PObject: PContainer {
  let global: PGlobal
  let isPlaceholder: Bool
  var args: [PValue]
  var state: PValue?

  init(global: PGlobal, isPlaceholder: Bool, args: [PValue] = []) {
    self.global = global
    self.isPlaceholder = isPlaceholder
    self.args = isPlaceholder ? [] : args
  }

  func clear() {
    args.removeAll()
    state = nil
  }
}

/// A PyTorch storage named by a persistent id: its key in the archive, element type and size.
final class PStorage {
  let key: String
  let type: DType
  /// Elements, as declared by the persistent id.
  let count: Int
  /// For legacy storage views: the root storage's key and the view's element offset into it.
  let elementOffset: Int

  init(key: String, type: DType, count: Int, elementOffset: Int = 0) {
    self.key = key
    self.type = type
    self.count = count
    self.elementOffset = elementOffset
  }
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
final class PTensor {
  let storage: PStorage
  let offset: Int
  let shape: [Int]
  let strides: [Int]

  init(storage: PStorage, offset: Int, shape: [Int], strides: [Int]) {
    self.storage = storage
    self.offset = offset
    self.shape = shape
    self.strides = strides
  }
}

/// A NumPy dtype rebuilt from `numpy.dtype(descr, align, copy)` and its BUILD state.
final class PNumpyDType {
  let descr: String
  /// '<', '>', '|' or '='.
  var byteOrder: Character = "="

  init(descr: String) { self.descr = descr }

  var elementType: DType? {
    guard let kind = descr.first, let size = Int(descr.dropFirst()) else { return nil }
    return DType.numpy(kind: kind, size: size)
  }

  var isBigEndian: Bool { byteOrder == ">" }
}

/// A NumPy array rebuilt from `_reconstruct` and its BUILD state.
final class PNDArray {
  var shape: [Int] = []
  var dtype: PNumpyDType?
  var fortranOrder = false
  var data: ArraySlice<UInt8> = []
}
