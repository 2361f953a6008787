import EAMRuntime

/// Where a compile's attention statistics come from: merged shards (`--stats`), or a calibration
/// run over the images (`--calib`); either way for the model being compiled.
enum StatisticsSource {
  /// The statistics `passes` need, or nil when none needs them.
  static func statistics(for passes: [any CompilerPass], model: ModelDescription, floatModel: Model,
                         options: CompileOptions, sourceSHA256: String) throws(CompileError) -> AttentionStatistics?
  {
    guard let pass = passes.first(where: { $0.needsStatistics }) else { return nil }
    if !options.statisticsFiles.isEmpty {
      return try merged(options.statisticsFiles, for: model, sourceSHA256: sourceSHA256)
    }
    guard !options.calibrationImages.isEmpty else {
      throw CompileError("the \(pass.name) pass needs --calib DIR or --stats FILE")
    }
    let images = Calibration.select(options.calibrationImages, options: options.calibration)
    guard !images.isEmpty else { throw CompileError("no calibration images left after --calib-count/--shard") }
    return try Calibration.run(model, floatModel: floatModel, images: images, sourceSHA256: sourceSHA256,
                               options: options.calibration)
  }

  /// The shards merged (in any order the result is the same), checked against the model's
  /// fingerprint (checkpoint hash and preprocessing) and its attention layers' heads and tokens.
  static func merged(_ paths: [String], for model: ModelDescription, sourceSHA256: String)
    throws(CompileError) -> AttentionStatistics
  {
    var statistics: AttentionStatistics
    do throws(StatisticsError) {
      statistics = try AttentionStatistics(contentsOf: paths[0])
      for path in paths.dropFirst() { try statistics.merge(try AttentionStatistics(contentsOf: path).with(origin: path)) }
    } catch { throw CompileError(error.description) }
    guard statistics.model == Calibration.fingerprint(model, sourceSHA256: sourceSHA256) else {
      throw CompileError("\(paths[0]): statistics were computed for another model or preprocessing")
    }
    // The fingerprint does not cover the head split (--heads): the shapes must match too.
    let layout = MapLayout(model, blocks: Calibration.attentionBlocks(model))
    guard statistics.heads == layout.heads, statistics.tokens == layout.tokens else {
      throw CompileError("\(paths[0]): statistics have \(statistics.heads) heads and \(statistics.tokens) tokens per attention layer, the model \(layout.heads) and \(layout.tokens) (calibrated with other --heads?)")
    }
    return statistics
  }
}

extension AttentionStatistics {
  func with(origin: String) -> AttentionStatistics {
    var copy = self
    copy.origin = origin
    return copy
  }
}
