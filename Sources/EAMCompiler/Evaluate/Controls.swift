/// A control: the compiled model with one choice of one pass made differently, measured beside
/// it on the held-out images (the report's `fidelity.control_*`). Built only when measured.
public struct Control {
  /// The report key, e.g. `control_std`.
  public var name: String
  public var build: () throws(CompileError) -> ModelDescription

  public init(name: String, build: @escaping () throws(CompileError) -> ModelDescription) {
    self.name = name
    self.build = build
  }
}

extension Control {
  /// EAM's selection controls: the same sparsity, budget, frozen values and bits, with the
  /// entries chosen by lowest standard deviation and uniformly at random, and by plain entropy
  /// when the compile weighted it (the criterion the compile used is not repeated). `model` and
  /// `statistics`: what EAM ran on.
  static func selection(_ options: EAMOptions, model: ModelDescription, statistics: [[HeadEntryStatistics]?]) -> [Control] {
    let controls: [SelectionCriterion] = options.criterion == .weightedEntropy ? [.entropy, .std, .random] : [.std, .random]
    return controls.filter { $0 != options.criterion }.map { criterion in
      var o = options
      o.criterion = criterion
      return Control(name: "control_\(criterion.rawValue)") { EAMPass.apply(model, statistics: statistics, options: o) }
    }
  }
}
