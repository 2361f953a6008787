/// The allowlist of pickle globals and how each is *interpreted* (never called). Any other global
/// becomes an inert placeholder `PObject` that remembers the global's name and where the pickle
/// named it; calling it yields another placeholder for the same global.
enum Globals {
  /// `torch._utils._rebuild_tensor_v2` and friends, numpy reconstruction, containers.
  private enum Known {
    case rebuildTensor, rebuildParameter, rebuildFromType, orderedDict, dict, namespace
    case set, slice, torchSize, npReconstruct, npDType, npScalar, codecsEncode, npNDArray
    case torchType(DType)
    /// Classes that may be named as arguments (`torch.Tensor` in `_rebuild_from_type_v2`).
    case typeReference
  }

  private static func lookup(_ g: PGlobal) -> Known? {
    let numpyCore = g.module == "numpy.core.multiarray" || g.module == "numpy._core.multiarray"
    switch (g.module, g.name) {
    case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
    case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
      return .rebuildParameter
    case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromType
    case ("collections", "OrderedDict"): return .orderedDict
    case ("builtins", "dict"): return .dict
    case ("argparse", "Namespace"): return .namespace
    case ("builtins", "set"), ("builtins", "frozenset"): return .set
    case ("builtins", "slice"): return .slice
    case ("torch", "Size"): return .torchSize
    case ("_codecs", "encode"): return .codecsEncode
    case ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"), ("torch", "device"): return .typeReference
    case ("numpy", "dtype"): return .npDType
    case ("numpy", "ndarray"): return .npNDArray
    default: break
    }
    if numpyCore {
      switch g.name {
      case "_reconstruct": return .npReconstruct
      case "scalar": return .npScalar
      case "dtype": return .npDType
      case "ndarray": return .npNDArray
      default: return nil
      }
    }
    if g.module == "torch" || g.module == "torch.storage", let t = DType.torch(g.name),
       g.name.hasSuffix("Storage") || g.module == "torch" {
      return .torchType(t)
    }
    return nil
  }

  /// Whether `g` is one the reader interprets (any other becomes an inert placeholder).
  static func interprets(_ g: PGlobal) -> Bool { lookup(g) != nil }

  /// The element type named by a storage class or dtype global, if it is one.
  static func storageType(_ v: PValue) -> DType? {
    guard case .global(let g) = v, case .torchType(let t)? = lookup(g) else { return nil }
    return t
  }

  private static func placeholder(_ g: PGlobal, arena: PickleArena) -> PValue {
    .object(arena.register(PObject(global: g, isPlaceholder: true)))
  }

  /// REDUCE: `callable(*args)`.
  static func call(_ callable: PValue, _ args: [PValue], arena: PickleArena) throws(IngestError) -> PValue {
    let g: PGlobal
    switch callable {
    case .global(let global): g = global
    case .object(let o) where o.isPlaceholder: return placeholder(o.global, arena: arena)
    default: throw IngestError("REDUCE on a \(callable.summary), which is not callable")
    }
    guard let known = lookup(g) else { return placeholder(g, arena: arena) }
    func arg(_ i: Int) throws(IngestError) -> PValue {
      guard i < args.count else { throw IngestError("'\(g.qualifiedName)' needs at least \(i + 1) arguments, got \(args.count)") }
      return args[i]
    }
    switch known {
    case .rebuildTensor:
      return try rebuildTensor(g, storage: try arg(0), offset: try arg(1), size: try arg(2), stride: try arg(3))
    case .rebuildParameter:
      return try arg(0)
    case .rebuildFromType:
      // (func, new_type, args, state): the tensor is func(*args); the subclass is ignored.
      guard let inner = try arg(2).items else { throw IngestError("'\(g.qualifiedName)' arguments are not a tuple") }
      return try call(try arg(0), inner, arena: arena)
    case .orderedDict, .dict:
      let d = arena.register(PDict())
      if let first = args.first {
        if case .dict(let src) = first {
          for (k, v) in zip(src.keys, src.values) { try d.set(k, v) }
        } else if let pairs = first.items {
          for p in pairs {
            guard let kv = p.items, kv.count == 2 else { throw IngestError("OrderedDict item is not a pair") }
            try d.set(kv[0], kv[1])
          }
        }
      }
      return .dict(d)
    case .namespace, .slice:
      return .object(arena.register(PObject(global: g, isPlaceholder: false, args: args)))
    case .set:
      let s = arena.register(try PList([]))
      if let first = args.first, let items = first.items { try s.append(contentsOf: items) }
      return .set(s)
    case .torchSize:
      guard let items = try arg(0).items else { throw IngestError("torch.Size argument is not a tuple") }
      return .tuple(arena.register(try PList(items)))
    case .codecsEncode:
      // Protocol 2 encodes bytes as _codecs.encode(str, 'latin1').
      guard let s = try arg(0).string else { throw IngestError("_codecs.encode argument is not a string") }
      let encoding = args.count > 1 ? (args[1].string ?? "") : "utf-8"
      if encoding == "latin1" || encoding == "latin-1" || encoding == "iso-8859-1" {
        var out: [UInt8] = []
        out.reserveCapacity(s.unicodeScalars.count)
        for u in s.unicodeScalars {
          guard u.value < 256 else { throw IngestError("_codecs.encode: character outside latin-1") }
          out.append(UInt8(u.value))
        }
        return .bytes(out[...])
      }
      return .bytes(Array(s.utf8)[...])
    case .npReconstruct:
      return .ndarray(PNDArray())
    case .npDType:
      guard let descr = try arg(0).string else { throw IngestError("numpy.dtype argument is not a string") }
      return .dtype(PNumpyDType(descr: descr))
    case .npScalar:
      return try numpyScalar(try arg(0), args.count > 1 ? args[1] : .none)
    case .npNDArray, .torchType, .typeReference:
      return placeholder(g, arena: arena)
    }
  }

  /// NEWOBJ / INST / OBJ: `cls.__new__(cls, *args)`.
  static func instantiate(_ cls: PValue, _ args: [PValue], arena: PickleArena) throws(IngestError) -> PValue {
    switch cls {
    case .global(let g):
      switch lookup(g) {
      case .orderedDict?, .dict?: return .dict(arena.register(PDict()))
      case .namespace?: return .object(arena.register(PObject(global: g, isPlaceholder: false, args: args)))
      case .set?: return .set(arena.register(try PList([])))
      case .npNDArray?: return .ndarray(PNDArray())
      default: return placeholder(g, arena: arena)
      }
    case .object(let o) where o.isPlaceholder:
      return placeholder(o.global, arena: arena)
    default:
      throw IngestError("cannot instantiate a \(cls.summary)")
    }
  }

  /// BUILD: `obj.__setstate__(state)` for the objects we interpret; ignored for the others.
  static func build(_ target: PValue, state: PValue) throws(IngestError) {
    switch target {
    case .ndarray(let a):
      // (version, shape, dtype, is_fortran, rawdata)
      guard let s = state.items, s.count >= 5, let shapeItems = s[1].items,
            case .dtype(let dtype) = s[2] else {
        throw IngestError("numpy array state is not (version, shape, dtype, fortran, data)")
      }
      var shape: [Int] = []
      for item in shapeItems {
        guard let d = item.int, d >= 0 else { throw IngestError("numpy array shape has a bad dimension") }
        shape.append(d)
      }
      a.shape = shape
      a.dtype = dtype
      a.fortranOrder = s[3].int == 1
      if case .bytes(let data) = s[4] { a.data = data }
    case .dtype(let d):
      // (version, byteorder, subdescr, names, fields, elsize, alignment, flags)
      if let s = state.items, s.count > 1, let order = s[1].string, let c = order.first {
        d.byteOrder = c
      }
    case .object(let o):
      if !o.isPlaceholder { o.state = state }
    default:
      break  // OrderedDict attributes (`_metadata`), tensor state (hooks): not needed.
    }
  }

  private static func rebuildTensor(_ g: PGlobal, storage: PValue, offset: PValue, size: PValue,
                                    stride: PValue) throws(IngestError) -> PValue {
    guard case .storage(let s) = storage else {
      if case .object(let o) = storage, o.isPlaceholder { return storage }
      throw IngestError("'\(g.qualifiedName)' expects a storage, got a \(storage.summary)")
    }
    guard let off = offset.int, off >= 0, let sizes = size.items, let strides = stride.items,
          sizes.count == strides.count else {
      throw IngestError("'\(g.qualifiedName)' has a malformed offset, size or stride")
    }
    var shape: [Int] = [], steps: [Int] = []
    for (d, st) in zip(sizes, strides) {
      guard let d = d.int, let st = st.int, d >= 0, st >= 0 else {
        throw IngestError("'\(g.qualifiedName)' has a negative or non-integer size or stride")
      }
      shape.append(d)
      steps.append(st)
    }
    return .tensor(PTensor(storage: s, offset: off, shape: shape, strides: steps))
  }

  private static func numpyScalar(_ dtype: PValue, _ data: PValue) throws(IngestError) -> PValue {
    guard case .dtype(let d) = dtype, case .bytes(let b) = data, let t = d.elementType,
          b.count == t.size else {
      return .float(.nan)  // An exotic scalar: not needed for weights.
    }
    var bits: UInt64 = 0
    for (i, byte) in b.enumerated() { bits |= UInt64(byte) << (8 * UInt64(i)) }
    if d.isBigEndian { bits = bits.byteSwapped >> (64 - 8 * UInt64(t.size)) }
    switch t {
    case .f64: return .float(Double(bitPattern: bits))
    case .i64: return .int(Int(Int64(bitPattern: bits)))
    case .i32: return .int(Int(Int32(truncatingIfNeeded: bits)))
    default:
      let v = Convert.floats(Array(b), offset: 0, count: 1, type: t, bigEndian: d.isBigEndian)[0]
      return t.isFloatingPoint ? .float(Double(v)) : .int(Int(v))
    }
  }
}
