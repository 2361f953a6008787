#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much the command line says on stderr besides errors.
public enum Verbosity: Int, Sendable, Comparable {
  /// Errors only (`-q`): no configuration, no progress.
  case quiet
  case normal
  /// `-v`: also per-step timings and notes.
  case verbose

  public static func < (a: Verbosity, b: Verbosity) -> Bool { a.rawValue < b.rawValue }
}

/// Progress of one long step (calibrating, evaluating, a control) on stderr.
///
/// On a terminal: one line redrawn in place, `calibrating [#####.....] 24/62 images, 2.9 images/s,
/// ETA 13 s`. Elsewhere (a pipe, a Slurm or Kubernetes job log): a plain line when the step starts,
/// one each time another tenth is done, and one when it ends, so that a log shows where a job is.
public final class Progress {
  /// How much is shown: the command line sets it before any work (`-q`, `-v`); the library
  /// alone (tests, other programs) stays quiet.
  nonisolated(unsafe) public static var verbosity = Verbosity.quiet
  /// Forces the plain (log) form even on a terminal, for tests and `--progress plain`.
  nonisolated(unsafe) public static var plain = false

  let phase: String
  let total: Int
  let unit: String
  let terminal: Bool
  let enabled: Bool
  let start: Double
  var done = 0
  /// Tenths already announced in the plain form.
  var tenths = 0
  var lastDraw = -1.0

  /// Starts a step of `total` items (at least one) named `phase` ("calibrating").
  public init(_ phase: String, total: Int, unit: String = "images") {
    self.phase = phase
    self.total = max(total, 0)
    self.unit = unit
    enabled = Progress.verbosity >= .normal && total > 0
    terminal = !Progress.plain && isatty(2) != 0
    start = Progress.now()
    if enabled && !terminal { Progress.line("\(phase): \(total) \(unit)") }
    if enabled && terminal { draw() }
  }

  /// `count` more items are done.
  public func advance(_ count: Int = 1) {
    done = min(total, done + count)
    guard enabled else { return }
    if terminal {
      // At most ten redraws a second.
      let t = Progress.now()
      if t - lastDraw >= 0.1 || done == total { draw() }
    } else {
      let reached = done * 10 / max(total, 1)
      if reached > tenths && done < total {
        tenths = reached
        Progress.line("\(phase): \(done)/\(total) \(unit) (\(done * 100 / total)%), \(rateText()), ETA \(etaText())")
      }
    }
  }

  /// The step is over: the closing line with its duration and rate.
  public func finish() {
    guard enabled else { return }
    let elapsed = Progress.now() - start
    let summary = "\(phase): \(done) \(unit) in \(Progress.seconds(elapsed)) (\(rateText()))"
    if terminal {
      Progress.write("\r\u{1B}[K" + summary + "\n")
    } else {
      Progress.line(summary)
    }
  }

  private func rate() -> Double {
    let elapsed = Progress.now() - start
    return elapsed > 0 ? Double(done) / elapsed : 0
  }

  private func rateText() -> String {
    let r = rate()
    return "\(Progress.oneDecimal(r)) \(unit)/s"
  }

  private func etaText() -> String {
    let r = rate()
    guard r > 0 else { return "?" }
    return Progress.seconds(Double(total - done) / r)
  }

  private func draw() {
    lastDraw = Progress.now()
    let width = 20
    let filled = total > 0 ? done * width / total : 0
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    let tail = done == 0 ? "" : ", \(rateText()), ETA \(etaText())"
    Progress.write("\r\u{1B}[K\(phase) [\(bar)] \(done)/\(total) \(unit)\(tail)")
  }

  /// One line on stderr (not a progress line: a message that goes wherever progress goes).
  public static func line(_ text: String) {
    write(text + "\n")
  }

  /// A message for `-v` only.
  public static func detail(_ text: String) {
    if verbosity >= .verbose { line(text) }
  }

  /// A message shown unless `-q`.
  public static func note(_ text: String) {
    if verbosity >= .normal { line(text) }
  }

  static func write(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { raw in
      var off = 0
      while off < raw.count {
        let n = Glibc.write(2, raw.baseAddress! + off, raw.count - off)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        off += n
      }
    }
  }

  static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// `2.9`, `12.0`: one decimal.
  public static func oneDecimal(_ x: Double) -> String {
    guard x.isFinite else { return "?" }
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(abs(tenths % 10))"
  }

  /// `0.4 s`, `13 s`, `2 min 5 s`.
  public static func seconds(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    if s < 10 { return oneDecimal(s) + " s" }
    let whole = Int(s.rounded())
    return whole < 120 ? "\(whole) s" : "\(whole / 60) min \(whole % 60) s"
  }
}
