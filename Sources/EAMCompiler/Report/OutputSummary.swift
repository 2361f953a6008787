import EAMIngest

#if canImport(Glibc)
import Glibc
#endif

/// Describes a model's output for people: top-5 classes for a 1000-class head, else a summary
/// of each feature vector.
public enum OutputSummary {
  public static func describe(_ output: Tensor, names: [String]?) -> String {
    let batch = output.shape[0], width = output.shape[1]
    var lines: [String] = []
    for b in 0..<batch {
      let row = Array(output.values[(b * width)..<((b + 1) * width)])
      let name = names?[b] ?? "image \(b)"
      if width == 1000 || (width > 1 && width <= 100) {
        let probs = softmax(row)
        let top = probs.indices.sorted { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }.prefix(5)
        let labels = width == 1000 ? ImageNetLabels.names : nil
        lines.append("\(name):")
        for i in top {
          let label = labels.map { $0[i] } ?? "class \(i)"
          lines.append("  \(String(format3(Double(probs[i]) * 100)))%  \(label) (\(i))")
        }
      } else {
        let norm = row.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let mean = row.reduce(0) { $0 + Double($1) } / Double(width)
        lines.append("\(name): \(width) features, L2 norm \(format3(norm)), mean \(format3(mean)), first [\(row.prefix(4).map { format3(Double($0)) }.joined(separator: ", "))]")
      }
    }
    return lines.joined(separator: "\n")
  }

  /// The same as one JSON object: shape, and per image the top-5 classes (probability, index,
  /// label) or the feature vector's L2 norm, mean and first values.
  public static func json(_ output: Tensor, names: [String]?, output path: String?) -> JSON {
    let batch = output.shape[0], width = output.shape[1]
    var items: [JSON] = []
    for b in 0..<batch {
      let row = Array(output.values[(b * width)..<((b + 1) * width)])
      var fields: [(String, JSON)] = [("name", .string(names?[b] ?? "image \(b)"))]
      if width == 1000 || (width > 1 && width <= 100) {
        let probs = softmax(row)
        let top = probs.indices.sorted { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }.prefix(5)
        fields.append(("top5", .array(top.map { i in
          .object([("class", .int(i)), ("probability", .number(Double(probs[i]))),
                   ("label", width == 1000 ? .string(ImageNetLabels.names[i]) : .null)])
        })))
      } else {
        let norm = row.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let mean = row.reduce(0) { $0 + Double($1) } / Double(width)
        fields += [("l2_norm", .number(norm)), ("mean", .number(mean)), ("first", .floats(Array(row.prefix(8))))]
      }
      items.append(.object(fields))
    }
    return .object([("shape", .array([.int(batch), .int(width)])), ("output_file", path.map { .string($0) } ?? .null),
                    ("outputs", .array(items))])
  }

  static func softmax(_ x: [Float]) -> [Float] {
    let m = x.max() ?? 0
    let e = x.map { Float(Glibc.exp(Double($0 - m))) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
  }

  static func format3(_ x: Double) -> String { "\(Double(Int((x * 1000).rounded())) / 1000)" }
}
