/// A restricted pickle virtual machine. It understands the opcodes of protocols 0–5 that
/// checkpoints use, never imports or calls anything: globals are looked up in `Globals`, which
/// interprets the allowed ones and turns every other one into an inert placeholder. A global known
/// to be dangerous (`UnsafeGlobals`) is refused as soon as the pickle names it, unless
/// `allowUnsafe`, which keeps it inert like the others; both kinds are listed in `notes`.
///
/// Resources are bounded by the input: every length is checked against the bytes left before
/// anything is allocated, the stack and memo can only grow by one entry per opcode, and container
/// nesting and MARK depth are capped.
package struct PickleMachine {
  typealias PersistentLoad = (PValue) throws(IngestError) -> PValue

  private var reader: ByteReader
  /// Names the pickle in messages ("archive/data.pkl").
  private let what: String
  private var stack: [PValue] = []
  private var marks: [[PValue]] = []
  private var memo: [Int: PValue] = [:]
  private let persistentLoad: PersistentLoad
  let arena = PickleArena()
  /// Offset of the opcode being executed (relative to the pickle's start).
  private var opOffset = 0
  private var op: UInt8 = 0
  private let allowUnsafe: Bool
  /// Globals kept inert: unknown ones (once each, in order) and allowed unsafe ones.
  private(set) var inertGlobals: [String] = []
  private(set) var unsafeGlobals: [String] = []

  static let maxMarkDepth = 1000

  /// `range` of `bytes` holds one pickle; `what` names it in messages ("archive/data.pkl").
  init(_ bytes: [UInt8], range: Range<Int>? = nil, what: String, allowUnsafe: Bool = false,
       persistentLoad: @escaping PersistentLoad) {
    reader = ByteReader(bytes, range: range, what: what)
    self.what = what
    self.allowUnsafe = allowUnsafe
    self.persistentLoad = persistentLoad
  }

  /// What a file's reader should tell the user about this pickle's globals.
  var notes: [String] {
    var out: [String] = []
    if !inertGlobals.isEmpty {
      let listed = inertGlobals.prefix(8).map { "'\($0)'" }.joined(separator: ", ") + (inertGlobals.count > 8 ? ", …" : "")
      out.append("\(what) names \(inertGlobals.count) globals this reader does not interpret, kept inert (never called): \(listed)")
    }
    if !unsafeGlobals.isEmpty {
      let listed = unsafeGlobals.map { "'\($0)'" }.joined(separator: ", ")
      out.append("\(what) names unsafe globals \(listed), kept inert (read anyway: allowUnsafePickle; never called)")
    }
    return out
  }

  /// A global as the pickle names it: refused if dangerous (unless allowed), noted if unknown.
  private mutating func admit(_ g: PGlobal) throws(IngestError) -> PGlobal {
    if let why = UnsafeGlobals.reason(g) {
      guard allowUnsafe else {
        throw IngestError("\(what): \(g.notAllowedMessage): \(why); the file is a live payload for torch.load and pickle (never run here; --allow-unsafe-pickle, ReadOptions.allowUnsafePickle, reads past it)")
      }
      if !unsafeGlobals.contains(g.qualifiedName), unsafeGlobals.count < 100 { unsafeGlobals.append(g.qualifiedName) }
    } else if !Globals.interprets(g), !inertGlobals.contains(g.qualifiedName), inertGlobals.count < 100 {
      inertGlobals.append(g.qualifiedName)
    }
    return g
  }

  /// Offset just after the STOP opcode (relative to the start of the range).
  var endOffset: Int { reader.offset }

  /// Runs until STOP and returns the pickled object.
  mutating func run() throws(IngestError) -> PValue {
    while true {
      guard !reader.atEnd else {
        throw IngestError("\(what): pickle is truncated (no STOP opcode before the end at offset \(reader.offset))")
      }
      opOffset = reader.offset
      op = try reader.u8()
      do throws(IngestError) {
        if op == Opcode.stop {
          let result = try pop()
          return result
        }
        try step()
      } catch {
        if error.problem.hasPrefix(what) { throw error }
        let hex = "0x" + String(op, radix: 16)
        throw IngestError("\(what): pickle opcode \(hex) (\(Opcode.name(op))) at offset \(opOffset): \(error.problem)")
      }
    }
  }

  // MARK: - Stack helpers

  private mutating func push(_ v: PValue) { stack.append(v) }

  private mutating func pop() throws(IngestError) -> PValue {
    guard let v = stack.popLast() else { throw IngestError("stack underflow") }
    return v
  }

  private func top() throws(IngestError) -> PValue {
    guard let v = stack.last else { throw IngestError("stack underflow") }
    return v
  }

  /// Pops everything above the most recent MARK, and the mark.
  private mutating func popMark() throws(IngestError) -> [PValue] {
    guard let previous = marks.popLast() else { throw IngestError("no MARK on the stack") }
    let items = stack
    stack = previous
    return items
  }

  private mutating func pushMark() throws(IngestError) {
    guard marks.count < Self.maxMarkDepth else {
      throw IngestError("MARKs nested deeper than \(Self.maxMarkDepth)")
    }
    marks.append(stack)
    stack = []
  }

  private func memoKey<T: FixedWidthInteger>(_ v: T) -> Int { Int(truncatingIfNeeded: v) }

  private mutating func memoGet(_ key: Int) throws(IngestError) -> PValue {
    guard let v = memo[key] else { throw IngestError("memo key \(key) was never stored") }
    return v
  }

  private func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

  private func makeList(_ items: [PValue]) throws(IngestError) -> PList {
    arena.register(try PList(items))
  }

  // MARK: - One opcode

  private mutating func step() throws(IngestError) {
    switch op {
    case Opcode.proto:
      let version = try reader.u8()
      guard version <= 5 else { throw IngestError("unsupported pickle protocol \(version)") }
    case Opcode.frame:
      _ = try reader.u64()  // Frames are only a buffering hint.
    case Opcode.mark: try pushMark()
    case Opcode.pop:
      if stack.isEmpty, !marks.isEmpty { _ = try popMark() } else { _ = try pop() }
    case Opcode.popMark: _ = try popMark()
    case Opcode.dup: push(try top())

    // Numbers
    case Opcode.none: push(.none)
    case Opcode.newTrue: push(.bool(true))
    case Opcode.newFalse: push(.bool(false))
    case Opcode.binInt: push(.int(Int(try reader.i32())))
    case Opcode.binInt1: push(.int(Int(try reader.u8())))
    case Opcode.binInt2: push(.int(Int(try reader.u16())))
    case Opcode.binFloat: push(.float(try reader.f64BigEndian()))
    case Opcode.long1:
      let n = Int(try reader.u8())
      push(Self.long(try reader.take(n)))
    case Opcode.long4:
      let n = try reader.length(try reader.i32())
      push(Self.long(try reader.take(n)))
    case Opcode.int:
      let line = text(try reader.line())
      switch line {
      case "01": push(.bool(true))
      case "00": push(.bool(false))
      default:
        guard let i = Int(line) else { throw IngestError("bad INT literal \(quoted(line))") }
        push(.int(i))
      }
    case Opcode.long:
      var line = text(try reader.line())
      if line.hasSuffix("L") { line.removeLast() }
      if let i = Int(line) { push(.int(i)) } else { push(.bigInt([])) }
    case Opcode.float:
      let line = text(try reader.line())
      guard let d = Double(line) else { throw IngestError("bad FLOAT literal \(quoted(line))") }
      push(.float(d))

    // Strings and bytes
    case Opcode.binUnicode:
      let n = try reader.length(try reader.u32())
      push(.string(text(try reader.take(n))))
    case Opcode.shortBinUnicode:
      let n = Int(try reader.u8())
      push(.string(text(try reader.take(n))))
    case Opcode.binUnicode8:
      let n = try reader.length(try reader.u64())
      push(.string(text(try reader.take(n))))
    case Opcode.binString:
      let n = try reader.length(try reader.i32())
      push(.string(Self.latin1(try reader.take(n))))
    case Opcode.shortBinString:
      let n = Int(try reader.u8())
      push(.string(Self.latin1(try reader.take(n))))
    case Opcode.binBytes:
      let n = try reader.length(try reader.u32())
      push(.bytes(try reader.take(n)))
    case Opcode.shortBinBytes:
      let n = Int(try reader.u8())
      push(.bytes(try reader.take(n)))
    case Opcode.binBytes8, Opcode.byteArray8:
      let n = try reader.length(try reader.u64())
      push(.bytes(try reader.take(n)))
    case Opcode.string:
      push(.string(try Self.pythonStringLiteral(try reader.line())))
    case Opcode.unicode:
      push(.string(Self.rawUnicodeEscape(try reader.line())))

    // Containers
    case Opcode.emptyList: push(.list(try makeList([])))
    case Opcode.emptyTuple: push(.tuple(try makeList([])))
    case Opcode.emptyDict: push(.dict(arena.register(PDict())))
    case Opcode.emptySet: push(.set(try makeList([])))
    case Opcode.list: push(.list(try makeList(try popMark())))
    case Opcode.tuple: push(.tuple(try makeList(try popMark())))
    case Opcode.frozenSet: push(.set(try makeList(try popMark())))
    case Opcode.tuple1, Opcode.tuple2, Opcode.tuple3:
      let n = Int(op - Opcode.tuple1) + 1
      guard stack.count >= n else { throw IngestError("stack underflow") }
      let items = Array(stack.suffix(n))
      stack.removeLast(n)
      push(.tuple(try makeList(items)))
    case Opcode.dict:
      let items = try popMark()
      let d = arena.register(PDict())
      try Self.setItems(d, items)
      push(.dict(d))
    case Opcode.append:
      let v = try pop()
      try Self.append(to: try top(), [v])
    case Opcode.appends:
      let items = try popMark()
      try Self.append(to: try top(), items)
    case Opcode.addItems:
      let items = try popMark()
      guard case .set(let s) = try top() else { throw IngestError("ADDITEMS on a \(try top().summary)") }
      try s.append(contentsOf: items)
    case Opcode.setItem:
      let v = try pop(), k = try pop()
      try Self.setItems(on: try top(), [k, v])
    case Opcode.setItems:
      let items = try popMark()
      try Self.setItems(on: try top(), items)

    // Memo
    case Opcode.binPut: memo[memoKey(try reader.u8())] = try top()
    case Opcode.longBinPut: memo[memoKey(try reader.u32())] = try top()
    case Opcode.memoize: memo[memo.count] = try top()
    case Opcode.put:
      let line = text(try reader.line())
      guard let k = Int(line) else { throw IngestError("bad PUT index \(quoted(line))") }
      memo[k] = try top()
    case Opcode.binGet: push(try memoGet(memoKey(try reader.u8())))
    case Opcode.longBinGet: push(try memoGet(memoKey(try reader.u32())))
    case Opcode.get:
      let line = text(try reader.line())
      guard let k = Int(line) else { throw IngestError("bad GET index \(quoted(line))") }
      push(try memoGet(k))

    // Globals and objects
    case Opcode.global:
      let module = text(try reader.line(limit: 4096))
      let name = text(try reader.line(limit: 4096))
      push(.global(try admit(PGlobal(module: module, name: name, opcode: op, offset: opOffset))))
    case Opcode.stackGlobal:
      let nameValue = try pop(), moduleValue = try pop()
      guard let name = nameValue.string, let module = moduleValue.string else {
        throw IngestError("STACK_GLOBAL needs two strings, found \(moduleValue.summary) and \(nameValue.summary)")
      }
      push(.global(try admit(PGlobal(module: module, name: name, opcode: op, offset: opOffset))))
    case Opcode.reduce:
      let args = try pop(), callable = try pop()
      guard let argList = args.items else {
        throw IngestError("REDUCE arguments are a \(args.summary), not a tuple")
      }
      push(try Globals.call(callable, argList, arena: arena))
    case Opcode.newObj:
      let args = try pop(), cls = try pop()
      push(try Globals.instantiate(cls, args.items ?? [], arena: arena))
    case Opcode.newObjEx:
      _ = try pop()
      let args = try pop(), cls = try pop()
      push(try Globals.instantiate(cls, args.items ?? [], arena: arena))
    case Opcode.inst:
      let module = text(try reader.line(limit: 4096))
      let name = text(try reader.line(limit: 4096))
      let args = try popMark()
      let g = PValue.global(try admit(PGlobal(module: module, name: name, opcode: op, offset: opOffset)))
      push(try Globals.instantiate(g, args, arena: arena))
    case Opcode.obj:
      var items = try popMark()
      guard !items.isEmpty else { throw IngestError("OBJ without a class") }
      let cls = items.removeFirst()
      push(try Globals.instantiate(cls, items, arena: arena))
    case Opcode.build:
      let state = try pop()
      try Globals.build(try top(), state: state)
    case Opcode.ext1, Opcode.ext2, Opcode.ext4:
      let code: Int
      switch op {
      case Opcode.ext1: code = Int(try reader.u8())
      case Opcode.ext2: code = Int(try reader.u16())
      default: code = Int(try reader.u32())
      }
      let g = PGlobal(module: "copyreg", name: "extension \(code)", opcode: op, offset: opOffset)
      push(.global(g))
    case Opcode.binPersId:
      push(try persistentLoad(try pop()))
    case Opcode.persId:
      push(try persistentLoad(.string(text(try reader.line()))))
    case Opcode.nextBuffer, Opcode.readonlyBuffer:
      throw IngestError("out-of-band buffers are not supported")
    default:
      throw IngestError("unknown opcode")
    }
  }

  // MARK: - Container updates

  private static func append(to target: PValue, _ items: [PValue]) throws(IngestError) {
    switch target {
    case .list(let l): try l.append(contentsOf: items)
    case .object(let o) where o.isPlaceholder: break  // Inert.
    default: throw IngestError("APPEND to a \(target.summary)")
    }
  }

  private static func setItems(on target: PValue, _ items: [PValue]) throws(IngestError) {
    switch target {
    case .dict(let d): try setItems(d, items)
    case .object(let o) where o.isPlaceholder: break  // Inert.
    default: throw IngestError("SETITEM on a \(target.summary)")
    }
  }

  private static func setItems(_ d: PDict, _ items: [PValue]) throws(IngestError) {
    guard items.count % 2 == 0 else { throw IngestError("odd number of items for a dict") }
    var i = 0
    while i < items.count {
      try d.set(items[i], items[i + 1])
      i += 2
    }
  }

  // MARK: - Literals

  /// LONG1/LONG4: little-endian two's complement.
  private static func long(_ bytes: ArraySlice<UInt8>) -> PValue {
    if bytes.isEmpty { return .int(0) }
    guard bytes.count <= 8 else { return .bigInt(bytes) }
    var v: UInt64 = 0
    for (i, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
    let bits = UInt64(bytes.count * 8)
    if bits < 64, let last = bytes.last, last & 0x80 != 0 { v |= ~0 << bits }  // Sign-extend.
    return .int(Int(Int64(bitPattern: v)))
  }

  static func latin1(_ bytes: ArraySlice<UInt8>) -> String {
    var s = ""
    s.unicodeScalars.reserveCapacity(bytes.count)
    for b in bytes { s.unicodeScalars.append(Unicode.Scalar(b)) }
    return s
  }

  /// Protocol 0 STRING: a Python repr like `'abc'` or `"a\'b"`.
  private static func pythonStringLiteral(_ line: ArraySlice<UInt8>) throws(IngestError) -> String {
    let b = Array(line)
    guard b.count >= 2, let q = b.first, q == 0x27 || q == 0x22, b.last == q else {
      throw IngestError("bad STRING literal")
    }
    var out: [UInt8] = []
    var i = 1
    while i < b.count - 1 {
      if b[i] == 0x5C, i + 1 < b.count - 1 {
        let c = b[i + 1]
        i += 2
        switch c {
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "x"):
          guard i + 2 <= b.count - 1, let v = UInt8(String(decoding: b[i..<(i + 2)], as: UTF8.self), radix: 16) else {
            throw IngestError("bad escape in STRING literal")
          }
          out.append(v)
          i += 2
        default: out.append(c)
        }
      } else {
        out.append(b[i])
        i += 1
      }
    }
    return latin1(out[...])
  }

  /// Protocol 0 UNICODE: raw-unicode-escape (`\uXXXX`, `\UXXXXXXXX`, other bytes latin-1).
  private static func rawUnicodeEscape(_ line: ArraySlice<UInt8>) -> String {
    let b = Array(line)
    var s = ""
    var i = 0
    while i < b.count {
      if b[i] == 0x5C, i + 1 < b.count, b[i + 1] == UInt8(ascii: "u") || b[i + 1] == UInt8(ascii: "U") {
        let n = b[i + 1] == UInt8(ascii: "u") ? 4 : 8
        if i + 2 + n <= b.count,
           let v = UInt32(String(decoding: b[(i + 2)..<(i + 2 + n)], as: UTF8.self), radix: 16),
           let scalar = Unicode.Scalar(v) {
          s.unicodeScalars.append(scalar)
          i += 2 + n
          continue
        }
      }
      s.unicodeScalars.append(Unicode.Scalar(b[i]))
      i += 1
    }
    return s
  }
}

extension PickleMachine {
  /// Runs the one pickle at the start of `bytes` the way a checkpoint's object pickle is run
  /// (torch persistent ids declare storages) and picks the tensors a checkpoint would take from
  /// it; no storage has any bytes, so only empty views materialise. Returns the tensors' names.
  /// The pickle machine, `Globals`, `Unwrap` and the view checks without a container around
  /// them, which also accepts protocol 0 and 1 pickles (no PROTO opcode): for fuzzing and tests.
  package static func evaluate(_ bytes: [UInt8]) throws(IngestError) -> [String] {
    let storages = TorchStorages()
    var machine = PickleMachine(bytes, what: "pickle",
                                persistentLoad: { (pid: PValue) throws(IngestError) -> PValue in try storages.load(pid) })
    defer { machine.arena.clear() }
    let root = try machine.run()
    let selection = try Unwrap.select(root)
    let checkpoint = try Assemble.checkpoint(selection, format: .torchLegacy, fileSize: bytes.count, options: ReadOptions()) {
      (s: PStorage) throws(IngestError) -> StorageBytes in
      StorageBytes(bytes: [], range: 0..<0, type: s.type, bigEndian: false)
    }
    return checkpoint.names
  }
}
