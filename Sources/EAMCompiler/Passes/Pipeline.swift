/// The passes of a compile, in the order they run, and running them.
public enum Pipeline {
  /// The passes the options select, in the order they run. A new pass registers here.
  public static func passes(for options: CompileOptions) -> [any CompilerPass] {
    var passes: [any CompilerPass] = []
    if let removal = options.removal { passes.append(AttentionRemoval(options: removal)) }
    if let h = options.hallucination { passes.append(HallucinatedHeads(options: h)) }
    if let compact = options.compactFFN { passes.append(CompactFFN(options: compact)) }
    if let eam = options.eam { passes.append(EAMCompression(options: eam)) }
    return passes
  }

  /// What the passes produced.
  struct Outcome {
    var model: ModelDescription
    /// One record per pass, in order.
    var records: [PassRecord]
    /// The controls the passes asked for, each already through the passes after its own.
    var controls: [Control]
  }

  /// Runs `passes` in order over `model`, each with a fresh record.
  static func run(_ passes: [any CompilerPass], on model: ModelDescription, context: PassContext)
    throws(CompileError) -> Outcome
  {
    var outcome = Outcome(model: model, records: [], controls: [])
    for (i, pass) in passes.enumerated() {
      var c = context
      c.record = PassRecord(name: pass.name)
      outcome.model = try pass.apply(outcome.model, &c)
      outcome.records.append(c.record)
      let later = Array(passes[(i + 1)...])
      outcome.controls += c.controls.map { control in
        Control(name: control.name) { () throws(CompileError) -> ModelDescription in
          // A control differs from the compiled model in one choice of one pass only: the passes
          // after that one run over it too (their records are not the compile's, so dropped).
          var m = try control.build()
          for p in later {
            var scratch = context
            scratch.record = PassRecord(name: p.name)
            m = try p.apply(m, &scratch)
          }
          return m
        }
      }
    }
    return outcome
  }
}
