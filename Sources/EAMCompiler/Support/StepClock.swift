/// Wall-clock durations of a compile's steps, for the report.
struct StepClock {
  private var last = Progress.now()
  private(set) var laps: [(String, Double)] = []

  /// The step `name` ends now.
  mutating func lap(_ name: String) {
    let t = Progress.now()
    laps.append((name, t - last))
    last = t
  }
}
