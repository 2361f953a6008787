/// The Python-literal dict at the start of an `.npy` file:
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
struct NPYHeader {
  var descr: String
  var type: DType
  var bigEndian: Bool
  var fortranOrder: Bool
  var shape: [Int]

  init(parsing bytes: ArraySlice<UInt8>) throws(IngestError) {
    var p = LiteralParser(Array(bytes))
    var descr: String?, fortran: Bool?, shape: [Int]?
    try p.expect("{")
    while true {
      p.skipSpace()
      if p.peek == UInt8(ascii: "}") { break }
      let key = try p.string()
      try p.expect(":")
      switch key {
      case "descr": descr = try p.string()
      case "fortran_order": fortran = try p.bool()
      case "shape": shape = try p.intTuple()
      default: throw IngestError("npy header has an unexpected key \(quoted(key))")
      }
      p.skipSpace()
      if p.peek == UInt8(ascii: ",") { p.advance() }
    }
    guard let descr, let fortran, let shape else {
      throw IngestError("npy header lacks 'descr', 'fortran_order' or 'shape'")
    }
    guard let order = descr.first, "<>|=".contains(order), let kind = descr.dropFirst().first,
          let size = Int(descr.dropFirst(2)), let type = DType.numpy(kind: kind, size: size) else {
      throw IngestError("npy dtype \(quoted(descr)) is not supported (expected e.g. '<f4', '<f2', '<f8', '>f4')")
    }
    self.descr = descr
    self.type = type
    self.bigEndian = order == ">"
    self.fortranOrder = fortran
    self.shape = shape
  }
}

/// A tiny parser for the Python literals in npy headers.
private struct LiteralParser {
  let b: [UInt8]
  var i = 0

  init(_ b: [UInt8]) { self.b = b }

  var peek: UInt8? { i < b.count ? b[i] : nil }
  mutating func advance() { i += 1 }

  mutating func skipSpace() {
    while let c = peek, c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { i += 1 }
  }

  mutating func expect(_ s: Unicode.Scalar) throws(IngestError) {
    skipSpace()
    guard peek == UInt8(ascii: s) else { throw IngestError("npy header: expected '\(s)' at offset \(i)") }
    i += 1
  }

  mutating func string() throws(IngestError) -> String {
    skipSpace()
    guard let q = peek, q == 0x27 || q == 0x22 else { throw IngestError("npy header: expected a string at offset \(i)") }
    i += 1
    let start = i
    while let c = peek, c != q { i += 1 }
    guard peek == q else { throw IngestError("npy header: unterminated string") }
    defer { i += 1 }
    return String(decoding: b[start..<i], as: UTF8.self)
  }

  mutating func bool() throws(IngestError) -> Bool {
    skipSpace()
    if b[i...].starts(with: Array("True".utf8)) { i += 4; return true }
    if b[i...].starts(with: Array("False".utf8)) { i += 5; return false }
    throw IngestError("npy header: expected True or False at offset \(i)")
  }

  mutating func intTuple() throws(IngestError) -> [Int] {
    try expect("(")
    var out: [Int] = []
    while true {
      skipSpace()
      if peek == UInt8(ascii: ")") { i += 1; return out }
      let start = i
      while let c = peek, c >= 0x30 && c <= 0x39 { i += 1 }
      guard i > start, i - start <= 18, let v = Int(String(decoding: b[start..<i], as: UTF8.self)) else {
        throw IngestError("npy header: bad shape at offset \(start)")
      }
      out.append(v)
      guard out.count <= 64 else { throw IngestError("npy header: too many dimensions") }
      skipSpace()
      if peek == UInt8(ascii: ",") { i += 1 }
    }
  }
}
