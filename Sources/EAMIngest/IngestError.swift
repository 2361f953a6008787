/// Why a checkpoint could not be read. `description` is one line naming the file and the problem,
/// e.g. `model.safetensors: header length 9.2 GB exceeds the file size 1.3 MB`.
public struct IngestError: Error, CustomStringConvertible, Sendable {
  /// The file the problem is in (as given by the caller); empty while still unknown internally.
  public var file: String
  /// What is wrong, without the file name.
  public var problem: String

  public init(file: String = "", _ problem: String) {
    self.file = file
    self.problem = problem
  }

  public var description: String {
    let line = problem.replacingNewlines()
    return file.isEmpty ? line : "\(file): \(line)"
  }

  /// The same error with `context` (an archive entry, a pickle) put before the problem.
  func within(_ context: String) -> IngestError {
    IngestError(file: file, "\(context): \(problem)")
  }

  /// The same error attributed to `file` (if not attributed yet).
  func inFile(_ file: String) -> IngestError {
    self.file.isEmpty ? IngestError(file: file, problem) : self
  }
}

extension String {
  fileprivate func replacingNewlines() -> String {
    String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
  }
}

/// A byte count for messages: "812 bytes", "1.3 MB", "9.2 GB".
func formatBytes(_ n: UInt64) -> String {
  if n < 1000 { return "\(n) bytes" }
  let units = ["kB", "MB", "GB", "TB", "PB", "EB"]
  var value = Double(n) / 1000
  var unit = 0
  while value >= 1000 && unit < units.count - 1 {
    value /= 1000
    unit += 1
  }
  let tenths = (value * 10).rounded() / 10
  return "\(tenths) \(units[unit])"
}

func formatBytes(_ n: Int) -> String { formatBytes(UInt64(max(0, n))) }

/// A string shown in a message: quoted, at most `limit` characters, control characters escaped.
func quoted(_ s: String, limit: Int = 80) -> String {
  var out = ""
  for (i, ch) in s.unicodeScalars.enumerated() {
    if i >= limit {
      out += "…"
      break
    }
    if ch.value < 0x20 || ch.value == 0x7f {
      out += "\\x" + String(ch.value, radix: 16)
    } else {
      out.unicodeScalars.append(ch)
    }
  }
  return "'\(out)'"
}
