import Foundation
import Testing
@testable import EAMCompiler
import EAMImage

/// The HTML report is one self-contained page; rendered in headless Chromium, its heatmaps are
/// drawn (their cells' colours are on the screenshot). Needs Debian's `chromium`: run by
/// `make test` and `make report-test` (EAMC_REPORT_TEST=1), which install it.
@Suite struct HTMLReportTests {
  static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
  static let enabled = ProcessInfo.processInfo.environment["EAMC_REPORT_TEST"] == "1"

  /// Compiles the small fixture with EAM and a report; returns the HTML path.
  static func report(in dir: URL) throws -> String {
    let html = dir.appendingPathComponent("m.report.html").path
    let run = try CLIRun.eamc("compile", CLITests.model, "--heads", "2", "-o", dir.appendingPathComponent("m.eam").path,
                              "--calib", CLITests.calib, "--sparsity", "0.3", "--eval", CLITests.eval, "--report", html, "-q")
    try #require(run.status == 0, "\(run.stderr)")
    return html
  }

  /// Written by every EAM compile test run: self-contained, both heatmaps, the JSON beside it.
  @Test func pageIsSelfContained() throws {
    let dir = CLIRun.folder("html")
    let html = try String(contentsOfFile: try Self.report(in: dir), encoding: .utf8)
    #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("http://") && !html.contains("https:"))
    #expect(html.contains("<svg id=entropy") && html.contains("<svg id=frozen") && html.contains("id=attention"))
    let json = try String(contentsOfFile: dir.appendingPathComponent("m.report.json").path, encoding: .utf8)
    #expect(json.hasPrefix("{\n  \"artifact\""), "the JSON report is pretty-printed")
  }

  static func screenshot(_ html: String, to png: String) throws -> RGBImage {
    let chromium = try #require(Self.chromium, "install Debian's chromium (make report-test does)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: chromium)
    process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,2600",
                         "--screenshot=\(png)", "file://\(html)"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return try ImageDecoder.decode(path: png)
  }

  /// Pixels far from grey: the heatmap colours (the page is otherwise black, grey and white).
  static func coloured(_ image: RGBImage) -> (count: Int, distinct: Int) {
    var count = 0
    var colours = Set<Int>()
    for i in stride(from: 0, to: image.pixels.count, by: 3) {
      let r = Int(image.pixels[i]), g = Int(image.pixels[i + 1]), b = Int(image.pixels[i + 2])
      if max(r, g, b) - min(r, g, b) > 60 {
        count += 1
        colours.insert(r << 16 | g << 8 | b)
      }
    }
    return (count, colours.count)
  }

  @Test(.enabled(if: enabled)) func heatmapsAreDrawn() throws {
    let dir = CLIRun.folder("html-render")
    let path = try Self.report(in: dir)
    let html = try String(contentsOfFile: path, encoding: .utf8)
    // The same page without the two heatmaps: the difference is what they draw.
    var bare = html
    for id in ["entropy", "frozen"] {
      let start = try #require(bare.range(of: "<svg id=\(id) "))
      let end = try #require(bare.range(of: "</svg>", range: start.upperBound..<bare.endIndex))
      bare.replaceSubrange(start.lowerBound..<end.upperBound, with: "")
    }
    let barePath = dir.appendingPathComponent("bare.html").path
    try bare.write(toFile: barePath, atomically: true, encoding: .utf8)
    let full = Self.coloured(try Self.screenshot(path, to: dir.appendingPathComponent("full.png").path))
    let without = Self.coloured(try Self.screenshot(barePath, to: dir.appendingPathComponent("bare.png").path))
    // 2 layers × 2 heads, 35×35-pixel cells, in each heatmap (the legend adds more).
    let cells = 2 * 2 * 35 * 35
    #expect(full.count - without.count >= 2 * cells * 9 / 10, "coloured pixels \(full.count) with heatmaps, \(without.count) without")
    #expect(full.distinct > without.distinct)
  }
}
