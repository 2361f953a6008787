/// Settings a training checkpoint keeps beside its weights, for recognition: string and integer
/// entries of the top-level dict (timm's `arch`, Lightning's `hyper_parameters`) and of an
/// `argparse.Namespace` (timm's and DeiT's `args`), flattened as `args.model`, `arch`, ...
/// Nothing here is trusted: recognition checks every value against the tensors' shapes.
enum CheckpointMetadata {
  /// Keys and values at most this long are kept; at most `limit` entries.
  static let maxLength = 200
  static let limit = 256

  static func collect(_ root: PValue) -> [String: String] {
    var out: [String: String] = [:]
    guard case .dict(let d) = root else { return out }
    for (k, v) in zip(d.keys, d.values) {
      guard let key = k.string else { continue }
      add(key, v, into: &out, depth: 0)
    }
    return out
  }

  private static func add(_ key: String, _ value: PValue, into out: inout [String: String], depth: Int) {
    guard out.count < limit, key.utf8.count <= maxLength else { return }
    switch value {
    case .string(let s) where s.utf8.count <= maxLength: out[key] = s
    case .int(let i): out[key] = String(i)
    case .bool(let b): out[key] = b ? "True" : "False"
    case .object(let o) where !o.isPlaceholder && o.global.qualifiedName == "argparse.Namespace" && depth < 2:
      if case .dict(let state)? = o.state { fields(state, prefix: key, into: &out, depth: depth) }
    case .dict(let inner) where depth < 1 && !Unwrap.isStateDict(inner):
      fields(inner, prefix: key, into: &out, depth: depth)
    default: break
    }
  }

  private static func fields(_ d: PDict, prefix: String, into out: inout [String: String], depth: Int) {
    for (k, v) in zip(d.keys, d.values) {
      guard let key = k.string else { continue }
      add(prefix + "." + key, v, into: &out, depth: depth + 1)
    }
  }
}
