/// A JSON value with a fixed key order, for machine-readable output that is stable across runs.
public indirect enum JSON: Sendable {
  case null
  case bool(Bool)
  case int(Int)
  case number(Double)
  case string(String)
  case array([JSON])
  case object([(String, JSON)])

  /// Compact JSON text.
  public var text: String {
    var s = ""
    write(&s)
    return s
  }

  /// Indented JSON text (two spaces), arrays of numbers kept on one line.
  public var pretty: String {
    var s = ""
    writePretty(&s, indent: "")
    return s
  }

  private func writePretty(_ s: inout String, indent: String) {
    let inner = indent + "  "
    switch self {
    case .array(let items) where !items.isEmpty && items.contains(where: { $0.isContainer }):
      s += "[\n"
      for (i, item) in items.enumerated() {
        s += inner
        item.writePretty(&s, indent: inner)
        s += i + 1 < items.count ? ",\n" : "\n"
      }
      s += indent + "]"
    case .object(let fields) where !fields.isEmpty:
      s += "{\n"
      for (i, (k, v)) in fields.enumerated() {
        s += inner
        JSON.escape(k, into: &s)
        s += ": "
        v.writePretty(&s, indent: inner)
        s += i + 1 < fields.count ? ",\n" : "\n"
      }
      s += indent + "}"
    default:
      write(&s)
    }
  }

  private var isContainer: Bool {
    switch self {
    case .array, .object: true
    default: false
    }
  }

  private func write(_ s: inout String) {
    switch self {
    case .null: s += "null"
    case .bool(let b): s += b ? "true" : "false"
    case .int(let i): s += String(i)
    case .number(let d):
      if d.isFinite { s += d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)" } else { s += "null" }
    case .string(let str): JSON.escape(str, into: &s)
    case .array(let items):
      s += "["
      for (i, item) in items.enumerated() {
        if i > 0 { s += "," }
        item.write(&s)
      }
      s += "]"
    case .object(let fields):
      s += "{"
      for (i, (k, v)) in fields.enumerated() {
        if i > 0 { s += "," }
        JSON.escape(k, into: &s)
        s += ":"
        v.write(&s)
      }
      s += "}"
    }
  }

  private static func escape(_ str: String, into s: inout String) {
    s += "\""
    for u in str.unicodeScalars {
      switch u {
      case "\"": s += "\\\""
      case "\\": s += "\\\\"
      case "\n": s += "\\n"
      case "\r": s += "\\r"
      case "\t": s += "\\t"
      default:
        if u.value < 0x20 {
          let hex = String(u.value, radix: 16)
          s += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          s.unicodeScalars.append(u)
        }
      }
    }
    s += "\""
  }
}

extension JSON {
  static func floats(_ values: [Float]) -> JSON { .array(values.map { .number(Double($0)) }) }
}
