/// Choosing the weights in an unpickled checkpoint.
///
/// Rules, in order:
/// 1. A dict whose values are mostly tensors (at least half, at least one) is the state dict.
/// 2. Otherwise the first entry among `preferredKeys` that holds such a dict (looking at most
///    three levels deep). Regular weights come before EMA weights: `state_dict`, `model`,
///    `model_state_dict`, `module`, `net`, ... and only then `model_ema`, `state_dict_ema`, `ema`,
///    `teacher`. An explicit training checkpoint's primary weights are what the model's own
///    `load_state_dict` would use; EMA weights are taken only when nothing else is there.
/// 3. Otherwise the entry with the most tensors that is a state dict.
/// Every other entry is listed in `ignored`. DDP's `module.` prefix is removed when every tensor
/// name has it; Lightning's `model.`/`net.` prefix is removed when every name has it and the
/// weights came from a `state_dict` entry.
enum Unwrap {
  struct Selection {
    var entries: [(name: String, value: PValue)]
    var origin: String
    var ignored: [String]
    var metadata: [String: String] = [:]
  }

  static let preferredKeys = [
    "state_dict", "model", "model_state_dict", "module", "net", "network", "weights", "params",
    "model_ema", "state_dict_ema", "ema", "ema_state_dict", "model_ema_state_dict", "teacher",
  ]

  static func select(_ root: PValue) throws(IngestError) -> Selection {
    if let p = root.placeholder {
      // A class name (capitalised) is most likely a whole pickled model rather than a state dict.
      let hint = p.global.name.first?.isUppercase == true
        ? " (a pickled object, not a state dict: save model.state_dict() instead)" : ""
      throw IngestError("the checkpoint's object is built by a disallowed global: \(p.global.notAllowedMessage)\(hint)")
    }
    var ignored: [String] = []
    var path: [String] = []
    guard let dict = try find(root, depth: 0, path: &path, ignored: &ignored) else {
      if case .dict(let d) = root {
        let listed = zip(d.keys, d.values).prefix(8).map { "\(describeKey($0.0)) (\($0.1.summary))" }
        throw IngestError("no weights found: no entry is a dict of tensors (entries: \(listed.joined(separator: ", ")))")
      }
      throw IngestError("no weights found: the checkpoint holds a \(root.summary), not a dict of tensors")
    }
    var entries: [(name: String, value: PValue)] = []
    let container = path.isEmpty ? "state dict" : "'\(path.last ?? "")'"
    for (k, v) in zip(dict.keys, dict.values) {
      guard case .string(let name) = k else {
        ignored.append("\(container) key \(k.summary)")
        continue
      }
      if let p = v.placeholder {
        throw IngestError("weight \(quoted(name)) is built by a disallowed global: \(p.global.notAllowedMessage)")
      }
      switch v {
      case .tensor, .ndarray: entries.append((name, v))
      default: ignored.append("\(container) entry \(quoted(name)) (\(v.summary))")
      }
    }
    var origin = path.isEmpty ? "top-level state dict" : "entry " + path.map { "'\($0)'" }.joined(separator: " → ")
    var removed: [String] = []
    let lightning = path.last.map { $0.hasPrefix("state_dict") } ?? false
    var changed = true
    while changed && !entries.isEmpty {
      changed = false
      for prefix in ["module.", "_orig_mod."] + (lightning ? ["model.", "net."] : [])
      where entries.allSatisfy({ $0.name.hasPrefix(prefix) && $0.name.count > prefix.count }) {
        entries = entries.map { (String($0.name.dropFirst(prefix.count)), $0.value) }
        removed.append(prefix)
        changed = true
      }
    }
    if !removed.isEmpty {
      origin += " (prefix \(removed.map { "'\($0)'" }.joined(separator: ", ")) removed)"
    }
    return Selection(entries: entries, origin: origin, ignored: ignored, metadata: CheckpointMetadata.collect(root))
  }

  private static func describeKey(_ k: PValue) -> String {
    if case .string(let s) = k { quoted(s, limit: 40) } else { k.summary }
  }

  /// Values that count as tensors when judging "mostly tensors" (a placeholder may be a tensor
  /// rebuilt by a disallowed function; it is reported if it is chosen).
  private static func tensorLike(_ v: PValue) -> Bool {
    switch v {
    case .tensor, .ndarray: true
    case .object(let o): o.isPlaceholder
    default: false
    }
  }

  private static func tensorCount(_ d: PDict) -> Int {
    d.values.reduce(0) { $0 + (tensorLike($1) ? 1 : 0) }
  }

  static func isStateDict(_ d: PDict) -> Bool {
    let n = d.values.reduce(0) { $0 + (isRealTensor($1) ? 1 : 0) }
    return n >= 1 && 2 * tensorCount(d) >= d.count
  }

  private static func isRealTensor(_ v: PValue) -> Bool {
    switch v {
    case .tensor, .ndarray: true
    default: false
    }
  }

  private static func find(_ v: PValue, depth: Int, path: inout [String],
                           ignored: inout [String]) throws(IngestError) -> PDict? {
    guard case .dict(let d) = v else { return nil }
    if isStateDict(d) { return d }
    guard depth < 3 else { return nil }
    var chosen: String?
    var result: PDict?
    for key in preferredKeys {
      guard let value = d[key] else { continue }
      if let p = value.placeholder {
        throw IngestError("entry '\(key)' is built by a disallowed global: \(p.global.notAllowedMessage)")
      }
      path.append(key)
      var innerIgnored: [String] = []
      if let found = try find(value, depth: depth + 1, path: &path, ignored: &innerIgnored) {
        chosen = key
        result = found
        ignored += innerIgnored
        break
      }
      path.removeLast()
    }
    if result == nil {
      var best = 0
      for (k, value) in zip(d.keys, d.values) {
        guard case .string(let key) = k, case .dict(let inner) = value, isStateDict(inner) else { continue }
        let n = tensorCount(inner)
        if n > best {
          best = n
          chosen = key
          result = inner
        }
      }
      if let key = chosen { path.append(key) }
    }
    guard let found = result, let key = chosen else { return nil }
    for (k, value) in zip(d.keys, d.values) where k.string != key {
      ignored.append("\(describeKey(k)) (\(value.summary))")
    }
    return found
  }
}
