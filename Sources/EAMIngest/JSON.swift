/// A small strict JSON parser (RFC 8259) for safetensors headers. Object key order is kept,
/// nesting depth is capped, numbers keep their text so large integers are exact.
enum JSON {
  case null
  case bool(Bool)
  case number(String)
  case string(String)
  case array([JSON])
  case object([JSONMember])

  static let maxDepth = 32

  static func parse(_ bytes: ArraySlice<UInt8>) throws(IngestError) -> JSON {
    var p = JSONParser(bytes: bytes)
    p.skipSpace()
    let v = try p.value(depth: 0)
    p.skipSpace()
    guard p.atEnd else { throw IngestError("JSON: unexpected data at offset \(p.offset)") }
    return v
  }

  /// A non-negative integer that fits in Int (no sign, fraction or exponent).
  var nonNegativeInt: Int? {
    guard case .number(let s) = self, !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
          s.utf8.count <= 18 else { return nil }
    return Int(s)
  }

  var string: String? { if case .string(let s) = self { s } else { nil } }
  var array: [JSON]? { if case .array(let a) = self { a } else { nil } }
  var object: [JSONMember]? { if case .object(let o) = self { o } else { nil } }

  subscript(_ key: String) -> JSON? { object?.first { $0.key == key }?.value }
}

/// One `"key": value` of a JSON object.
struct JSONMember {
  var key: String
  var value: JSON
}

private struct JSONParser {
  let bytes: ArraySlice<UInt8>
  var i: Int

  init(bytes: ArraySlice<UInt8>) {
    self.bytes = bytes
    i = bytes.startIndex
  }

  var atEnd: Bool { i >= bytes.endIndex }
  var offset: Int { i - bytes.startIndex }
  var peek: UInt8? { i < bytes.endIndex ? bytes[i] : nil }

  mutating func skipSpace() {
    while let c = peek, c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { i += 1 }
  }

  func error(_ what: String) -> IngestError { IngestError("JSON header: \(what) at offset \(offset)") }

  mutating func literal(_ word: String) throws(IngestError) {
    for c in word.utf8 {
      guard peek == c else { throw error("bad literal") }
      i += 1
    }
  }

  mutating func value(depth: Int) throws(IngestError) -> JSON {
    guard depth < JSON.maxDepth else { throw error("nesting deeper than \(JSON.maxDepth)") }
    guard let c = peek else { throw error("unexpected end") }
    switch c {
    case UInt8(ascii: "{"):
      i += 1
      var members: [JSONMember] = []
      var seen = Set<String>()
      skipSpace()
      if peek == UInt8(ascii: "}") { i += 1; return .object(members) }
      while true {
        skipSpace()
        guard peek == UInt8(ascii: "\"") else { throw error("expected a key") }
        let key = try string()
        guard seen.insert(key).inserted else { throw error("duplicate key \(quoted(key))") }
        skipSpace()
        guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
        i += 1
        skipSpace()
        members.append(JSONMember(key: key, value: try value(depth: depth + 1)))
        skipSpace()
        if peek == UInt8(ascii: ",") { i += 1; continue }
        if peek == UInt8(ascii: "}") { i += 1; return .object(members) }
        throw error("expected ',' or '}'")
      }
    case UInt8(ascii: "["):
      i += 1
      var items: [JSON] = []
      skipSpace()
      if peek == UInt8(ascii: "]") { i += 1; return .array(items) }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        if peek == UInt8(ascii: ",") { i += 1; continue }
        if peek == UInt8(ascii: "]") { i += 1; return .array(items) }
        throw error("expected ',' or ']'")
      }
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): try literal("true"); return .bool(true)
    case UInt8(ascii: "f"): try literal("false"); return .bool(false)
    case UInt8(ascii: "n"): try literal("null"); return .null
    default: return .number(try number())
    }
  }

  mutating func number() throws(IngestError) -> String {
    let start = i
    if peek == UInt8(ascii: "-") { i += 1 }
    func digits(_ p: inout JSONParser) -> Int {
      let s = p.i
      while let c = p.peek, c >= 0x30 && c <= 0x39 { p.i += 1 }
      return p.i - s
    }
    let intStart = i
    guard digits(&self) > 0 else { throw error("bad value") }
    if bytes[intStart] == 0x30 && i - intStart > 1 { throw error("leading zero in number") }
    if peek == UInt8(ascii: ".") {
      i += 1
      guard digits(&self) > 0 else { throw error("bad number") }
    }
    if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
      i += 1
      if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
      guard digits(&self) > 0 else { throw error("bad number") }
    }
    return String(decoding: bytes[start..<i], as: UTF8.self)
  }

  mutating func string() throws(IngestError) -> String {
    i += 1  // Opening quote.
    var out: [UInt8] = []
    while true {
      guard let c = peek else { throw error("unterminated string") }
      i += 1
      switch c {
      case UInt8(ascii: "\""):
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
        return s
      case UInt8(ascii: "\\"):
        guard let e = peek else { throw error("unterminated escape") }
        i += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
          var code = try hex4()
          if code >= 0xD800 && code < 0xDC00 {
            guard peek == UInt8(ascii: "\\") else { throw error("lone surrogate") }
            i += 1
            guard peek == UInt8(ascii: "u") else { throw error("lone surrogate") }
            i += 1
            let low = try hex4()
            guard low >= 0xDC00 && low < 0xE000 else { throw error("bad surrogate pair") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape") }
          out += Array(String(Character(scalar)).utf8)
        default: throw error("bad escape")
        }
      default:
        guard c >= 0x20 else { throw error("control character in string") }
        out.append(c)
      }
    }
  }

  mutating func hex4() throws(IngestError) -> UInt32 {
    guard i + 4 <= bytes.endIndex,
          let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
      throw error("bad \\u escape")
    }
    i += 4
    return v
  }
}
