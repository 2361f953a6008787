/// The compile report as one self-contained HTML page (`--report NAME.html`): inline CSS and
/// SVG only, no script and nothing fetched, readable on screen and printed.
public enum HTMLReport {
  public static func render(_ r: CompileReport) -> String {
    var body: [String] = []
    body.append("<h1>eamc compile report</h1>")
    body.append("<p class=sub>\(esc(r.artifact)) from \(esc(r.source)) · eamc \(esc(r.eamcVersion)) · \(esc(r.machine)) · kernels \(esc(r.kernels))</p>")
    body.append(summary(r))
    body.append(fidelity(r))
    body.append("<h2>Head entropy (mean row entropy, nats), layer × head</h2>")
    body.append(r.headEntropy.contains(where: { !$0.isEmpty }) ? heatmap(r.headEntropy, id: "entropy", unit: "nats")
                                                                   : "<p>No calibration statistics.</p>")
    body.append("<h2>Frozen fraction, layer × head</h2>")
    body.append(heatmap(r.frozenFraction, id: "frozen", unit: "", fixedRange: (0, 1)))
    body.append(attention(r))
    body.append(layerError(r))
    if !r.quantization.isEmpty { body.append(quantization(r)) }
    body.append(sizes(r))
    body.append("<h2>Method</h2><ul>" + r.methodNotes.map { "<li>\(esc($0))</li>" }.joined() + "</ul>")
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>eamc report: \(esc(r.artifact))</title>
      <style>
      body{font:14px/1.45 system-ui,sans-serif;color:#111;background:#fff;max-width:1000px;margin:24px auto;padding:0 16px}
      h1{font-size:22px;margin:0}h2{font-size:16px;margin:26px 0 8px;border-bottom:1px solid #ccc}
      .sub{color:#555;margin:4px 0 12px}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #e4e4e4;text-align:left}
      td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}svg text{font:11px system-ui,sans-serif}
      .pair{display:flex;gap:24px;flex-wrap:wrap}
      @media print{body{margin:0;max-width:none}h2{break-after:avoid}svg,table{break-inside:avoid}}
      </style></head><body>
      \(body.joined(separator: "\n"))
      </body></html>

      """
  }

  static func esc(_ s: String) -> String {
    var out = ""
    for c in s {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      default: out.append(c)
      }
    }
    return out
  }

  static func f(_ x: Double, _ digits: Int = 5) -> String {
    guard x.isFinite else { return "–" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let v = (x * p).rounded() / p
    var s = "\(v)"
    if let dot = s.firstIndex(of: ".") {
      let decimals = s.distance(from: dot, to: s.endIndex) - 1
      if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
  }

  static func summary(_ r: CompileReport) -> String {
    var rows: [(String, String)] = [
      ("artifact", "\(mib(r.artifactBytes)), \(percent(Double(r.artifactBytes) / Double(max(r.floatWeightBytes, 1)))) of the float32 weights (\(mib(r.floatWeightBytes)))"),
      ("flags", "<code>\(esc(r.flags.joined(separator: " ")))</code>"),
      ("heads", esc(r.headCount.isEmpty ? "–" : r.headCount)),
      ("calibration", r.calibrationImages > 0 ? "\(r.calibrationImages) images, set sha256 <code>\(esc(String(r.calibrationSetSHA256.prefix(16))))…</code>" : "–"),
      ("held-out images", r.evalImages > 0 ? "\(r.evalImages)" : "none (no --eval): fidelity not measured"),
    ]
    for p in r.passes {
      rows.append(("pass \(esc(p.name))", p.settings.map { "\(esc($0.0)) <code>\(esc($0.1.text))</code>" }.joined(separator: ", ")))
    }
    let total = r.durations.reduce(0) { $0 + $1.1 }
    rows.append(("durations", r.durations.map { "\(esc($0.0)) \(f($0.1, 1)) s" }.joined(separator: " · ") + " · total \(f(total, 1)) s"))
    return "<table id=summary>" + rows.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }.joined() + "</table>"
  }

  static func fidelity(_ r: CompileReport) -> String {
    var s = "<h2>Fidelity on held-out images (cosine of the output to the float model's)</h2>"
    guard !r.fidelity.isEmpty else {
      return s + "<p>Not measured: the compile had no held-out images (<code>--eval DIR</code>).</p>"
    }
    s += "<table id=fidelity><tr><th>model</th><th>images</th><th>mean cosine</th><th>min cosine</th><th>mean relative error</th><th>top-1 agreement</th></tr>"
    for (name, v) in r.fidelity {
      let top1 = v.top1Agreement.map { f($0 * 100, 1) + "%" } ?? "–"
      s += "<tr><td>\(esc(name == "eam" ? "this artifact" : name))</td><td class=n>\(v.images)</td><td class=n>\(f(v.meanCosine))</td><td class=n>\(f(v.minCosine))</td><td class=n>\(f(v.meanRelativeError))</td><td class=n>\(top1)</td></tr>"
    }
    return s + "</table>"
  }

  /// Each linear layer's stored type and bytes, and the output error it adds alone (worst first
  /// marked by a bar).
  static func quantization(_ r: CompileReport) -> String {
    let images = r.quantizationImages.isEmpty ? "errors not measured: they are with --eval" : "\(r.quantizationImages) images"
    var s = "<h2>Weights by layer: type, size and the output error each adds alone (\(esc(images)))</h2>"
    let top = max(r.quantization.compactMap(\.error).max() ?? 0, 1e-12)
    s += "<table id=quantization><tr><th>layer</th><th>type</th><th>stored</th><th>of f32</th><th>1 − cosine, this layer alone</th></tr>"
    for q in r.quantization {
      let error = q.error.map { e in "\(f(e, 6)) <svg width=80 height=9><rect width=\(Int((80 * e / top).rounded())) height=9 fill=#3b528b></rect></svg>" } ?? "–"
      s += "<tr><td><code>\(esc(q.layer))</code></td><td>\(esc(q.type))</td><td class=n>\(q.storedBytes)</td><td class=n>\(f(Double(q.storedBytes) / Double(max(q.float32Bytes, 1)) * 100, 1))%</td><td class=n>\(error)</td></tr>"
    }
    return s + "</table>"
  }

  /// Viridis-like ramp, t in 0...1.
  static func color(_ t: Double) -> String {
    let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
    let x = min(max(t.isFinite ? t : 0, 0), 1) * Double(stops.count - 1)
    let i = min(Int(x), stops.count - 2), u = x - Double(i)
    let (a, b) = (stops[i], stops[i + 1])
    func c(_ p: Double, _ q: Double) -> Int { Int((p + (q - p) * u).rounded()) }
    return "rgb(\(c(a.0, b.0)),\(c(a.1, b.1)),\(c(a.2, b.2)))"
  }

  /// Rows are layers, columns heads; empty rows (no attention) drawn grey.
  static func heatmap(_ values: [[Float]], id: String, unit: String, fixedRange: (Double, Double)? = nil) -> String {
    let heads = values.map(\.count).max() ?? 0
    guard heads > 0 else { return "<p>Nothing to show.</p>" }
    let all = values.flatMap { $0 }.map(Double.init)
    let lo = fixedRange?.0 ?? (all.min() ?? 0), hi = fixedRange?.1 ?? (all.max() ?? 1)
    let cell = max(14, min(36, 480 / heads)), left = 64, top = 22
    let width = left + heads * cell + 150, height = top + values.count * cell + 10
    var s = "<svg id=\(id) width=\(width) height=\(height) role=img>"
    for h in 0..<heads { s += "<text x=\(left + h * cell + cell / 2) y=14 text-anchor=middle>\(h)</text>" }
    for (l, row) in values.enumerated() {
      let y = top + l * cell
      s += "<text x=\(left - 6) y=\(y + cell / 2 + 4) text-anchor=end>layer \(l)</text>"
      for h in 0..<heads {
        let x = left + h * cell
        if h < row.count {
          let v = Double(row[h]), t = hi > lo ? (v - lo) / (hi - lo) : 0.5
          s += "<rect x=\(x) y=\(y) width=\(cell - 1) height=\(cell - 1) fill=\"\(color(t))\"><title>layer \(l), head \(h): \(f(v, 4)) \(unit)</title></rect>"
        } else {
          s += "<rect x=\(x) y=\(y) width=\(cell - 1) height=\(cell - 1) fill=\"#ddd\"/>"
        }
      }
    }
    // Legend.
    let lx = left + heads * cell + 24
    for k in 0..<10 {
      s += "<rect x=\(lx) y=\(top + k * 12) width=14 height=12 fill=\"\(color(1 - Double(k) / 9))\"/>"
    }
    s += "<text x=\(lx + 20) y=\(top + 10)>\(f(hi, 3)) \(unit)</text><text x=\(lx + 20) y=\(top + 118)>\(f(lo, 3)) \(unit)</text></svg>"
    return s
  }

  static func grid(_ v: [Float], side: Int, frozen: [Bool], title: String, range: Double) -> String {
    let cell = max(6, min(16, 256 / max(side, 1))), size = side * cell
    var s = "<figure><svg width=\(size) height=\(size)>"
    for i in 0..<min(v.count, side * side) {
      let x = (i % side) * cell, y = (i / side) * cell
      // Colour ∝ √value: a few keys take most of the mass, the rest would be one colour.
      s += "<rect x=\(x) y=\(y) width=\(cell) height=\(cell) fill=\"\(color(range > 0 ? (Double(max(v[i], 0)) / range).squareRoot() : 0))\""
      s += frozen[i] ? " stroke=\"#f0f\" stroke-width=\"1\"/>" : "/>"
    }
    return s + "</svg><figcaption>\(esc(title))</figcaption></figure>"
  }

  static func attention(_ r: CompileReport) -> String {
    var s = "<h2>Attention map before and after freezing</h2>"
    guard let e = r.attentionExample else {
      return s + "<p>Not at hand: the example needs calibration statistics, a class token and a head with some (not all) of a row frozen.</p>"
    }
    let range = Double(max(e.before.max() ?? 0, e.after.max() ?? 0))
    s += "<p>Block \(e.block), head \(e.head): " + (e.query == 0 ? "the class token's" : "patch token \(e.query)'s") + " attention to each patch (\(e.side)×\(e.side)). Before: the median over the calibration images. After: frozen entries (outlined) at their stored \(r.bits)-bit value, the free ones scaled to the mass left, as the runtime shares it per image. Colour ∝ √attention, one scale for both.</p>"
    s += "<div class=pair id=attention>" + grid(e.before, side: e.side, frozen: Array(repeating: false, count: e.frozen.count), title: "before", range: range)
    s += grid(e.after, side: e.side, frozen: e.frozen, title: "after (\(e.frozen.filter { $0 }.count) of \(e.frozen.count) frozen)", range: range) + "</div>"
    return s
  }

  static func layerError(_ r: CompileReport) -> String {
    let images = r.layerErrorImages.isEmpty ? "not measured" : r.layerErrorImages + " images"
    let s = "<h2>Per-block error of the residual stream (\(esc(images)))</h2>"
    guard !r.layerError.isEmpty else { return s + "<p>Not measured.</p>" }
    let top = max(r.layerError.max() ?? 0, 1e-9), bar = 28, h = 140
    var svg = "<svg id=layer-error width=\(40 + r.layerError.count * bar) height=\(h + 30)>"
    for (i, v) in r.layerError.enumerated() {
      let bh = Int(Double(h) * v / top)
      svg += "<rect x=\(30 + i * bar) y=\(h - bh) width=\(bar - 4) height=\(bh) fill=\"#3b528b\"><title>block \(i): \(f(v, 4))</title></rect>"
      svg += "<text x=\(30 + i * bar + bar / 2 - 2) y=\(h + 14) text-anchor=middle>\(i)</text>"
    }
    svg += "<text x=0 y=10>\(f(top, 3))</text></svg>"
    return s + svg
  }

  static func sizes(_ r: CompileReport) -> String {
    let w = 600.0, float = Double(max(r.floatWeightBytes, 1))
    let a = Int(w * min(1, Double(r.artifactBytes) / float))
    return """
      <h2>Size</h2><svg id=sizes width=760 height=60>
      <rect x=0 y=4 width=\(Int(w)) height=20 fill="#bbb"/><text x=\(Int(w) + 8) y=18>float32 weights \(mib(r.floatWeightBytes))</text>
      <rect x=0 y=32 width=\(a) height=20 fill="#21918c"/><text x=\(Int(w) + 8) y=46>artifact \(mib(r.artifactBytes))</text></svg>
      """
  }
}
