/// What `eamc calibrate` wrote.
public struct CalibrationFileSummary: Sendable {
  public var images: Int
  /// SHA-256-based hash of the calibration set (`AttentionStatistics.calibrationSetSHA256`).
  public var setHash: String
  public var plan: CalibrationPlan
}

extension Calibration {
  /// `eamc calibrate`: the statistics of `images` (after `--calib-count` and `--shard`) written
  /// to `output`, within `options.calibration.memoryBudget`. When the statistics of every block
  /// do not fit, groups of blocks are calibrated in successive passes over the images, each
  /// pass keeping only its group's statistics and encoding them to the file after it; the file
  /// has the same bytes as one pass's. Nothing is written on failure.
  public static func calibrate(_ input: String, images: [String], options: CompileOptions, to output: String)
    throws(CompileError) -> CalibrationFileSummary
  {
    try RunFiles.check(outputs: [.init("statistics file", output)],
                       inputs: [.init("checkpoint", input)] + images.map { .init("calibration image", $0) })
    let (checkpoint, description) = try Compiler.load(input, overrides: options.overrides, reading: options.reading)
    try options.announce?(checkpoint, description)
    let floatModel = try Evaluation.model(of: description, name: input, threads: options.threads, source: input)
    let selected = select(images, options: options.calibration)
    guard !selected.isEmpty else { throw CompileError("no calibration images in this shard") }
    let blocks = attentionBlocks(description)
    guard !blocks.isEmpty else { throw CompileError("the model has no attention to calibrate") }
    let plan = try self.plan(description, floatModel: floatModel, options: options.calibration, resident: false)
    let layout = MapLayout(description, blocks: blocks)
    let sha = (try? FileHash.sha256(path: input)) ?? ""
    var header = StatisticsFileHeader(binning: .standard, heads: layout.heads, tokens: layout.tokens,
                                      model: fingerprint(description, sourceSHA256: sha))
    guard let headerBytes = StatisticsFileHeader.byteCount(modelBytes: header.model.utf8.count, layers: blocks.count,
                                                           slices: header.observations.count, images: selected.count)
    else { throw CompileError("\(output): the statistics' header does not fit in memory") }
    func checked<T>(_ body: () throws(StatisticsError) -> T) throws(CompileError) -> T {
      do throws(StatisticsError) { return try body() } catch { throw CompileError(error.description) }
    }
    let file = try checked { () throws(StatisticsError) in try StatisticsFileWriter(path: output, headerBytes: headerBytes) }
    for (k, group) in plan.groups.enumerated() {
      let filled = try pass(description, floatModel: floatModel, images: selected, layout: layout, layers: group, plan: plan,
                            statistics: checked { () throws(StatisticsError) in
                              try AttentionStatistics(layers: group.count, heads: Array(layout.heads[group]),
                                                      tokens: Array(layout.tokens[group]), model: header.model)
                            },
                            options: options.calibration, label: plan.groups.count > 1 ? passLabel(plan, k) : nil)
      try checked { () throws(StatisticsError) in
        try header.take(filled, layers: group)
        for l in 0..<filled.layers {
          try filled.forEachSection(layer: l) { (bytes: [UInt8]) throws(StatisticsError) in try file.append(bytes) }
        }
      }
    }
    try checked { () throws(StatisticsError) in
      try file.append(header.trailer)
      try file.finish(header: header.bytes)
    }
    return CalibrationFileSummary(images: header.images.count, setHash: header.images.hash, plan: plan)
  }
}
