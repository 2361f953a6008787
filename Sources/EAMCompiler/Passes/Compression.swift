import EAMFormat
import EAMRuntime

/// The compress stage: calibration statistics → EAM → the report's measurements.
enum Compression {
  static func apply(_ eam: EAMOptions, to model: ModelDescription, settings: inout EmitSettings, options: CompileOptions,
                    source: String) throws(CompileError) -> (ModelDescription, CompileReport)
  {
    guard (0...1).contains(eam.sparsity) else { throw CompileError("--sparsity must be between 0 and 1, not \(eam.sparsity)") }
    guard (1...8).contains(eam.bits) else { throw CompileError("--attn-bits must be 1 to 8, not \(eam.bits)") }
    let floatBytes: [UInt8]
    do throws(FormatError) { floatBytes = try Emitter.artifact(for: model, settings: EmitSettings()) } catch {
      throw CompileError("\(source): \(error.message)")
    }
    let floatModel = try Evaluation.model(bytes: floatBytes, name: source, threads: options.threads)

    // Statistics: merged shards, or a calibration pass over the images.
    var statistics: AttentionStatistics
    if !options.statisticsFiles.isEmpty {
      do throws(StatisticsError) {
        statistics = try AttentionStatistics(contentsOf: options.statisticsFiles[0])
        for path in options.statisticsFiles.dropFirst() { try statistics.merge(try AttentionStatistics(contentsOf: path).with(origin: path)) }
      } catch { throw CompileError(error.description) }
      let expected = Calibration.fingerprint(model, sourceSHA256: settings.sourceSHA256)
      guard statistics.model == expected else {
        throw CompileError("\(options.statisticsFiles[0]): statistics were computed for another model or preprocessing")
      }
    } else {
      guard !options.calibrationImages.isEmpty else { throw CompileError("EAM needs --calib DIR or --stats FILE") }
      let images = Calibration.select(options.calibrationImages, options: options.calibration)
      guard !images.isEmpty else { throw CompileError("no calibration images left after --calib-count/--shard") }
      statistics = try Calibration.run(model, floatModel: floatModel, images: images, sourceSHA256: settings.sourceSHA256,
                                       options: options.calibration)
    }
    let calibration = Calibration.result(statistics, model: model)
    let compressed = EAMPass.apply(model, statistics: calibration.perHead, options: eam)

    settings.calibration.images = calibration.images
    settings.calibration.setSHA256 = calibration.setHash
    settings.entropy = compressed.blocks.map { b in
      var e = Manifest.EntropyTable()
      e.block = b.index
      e.headEntropy = calibration.headEntropy[b.index]
      e.frozenFraction = frozenFractions(compressed, block: b.index)
      return e
    }

    var report = CompileReport()
    report.source = source
    report.flags = options.normalisedArguments
    report.calibrationImages = calibration.images
    report.calibrationSetSHA256 = calibration.setHash
    report.headEntropy = calibration.headEntropy
    report.frozenFraction = compressed.blocks.map { frozenFractions(compressed, block: $0.index) }
    report.sparsity = eam.sparsity
    report.bits = eam.bits
    report.allocation = eam.allocation.rawValue
    report.criterion = eam.criterion.rawValue
    report.methodNotes = methodNotes
    if !options.evalImages.isEmpty {
      report.evalImages = options.evalImages.count
      let reference = try Evaluation.outputs(floatModel, images: options.evalImages)
      let width = floatModel.outputWidth, classifier = model.architecture.numClasses > 0
      var variants: [(String, ModelDescription)] = [("eam", compressed)]
      for control in [SelectionCriterion.std, .random] where control != eam.criterion {
        var o = eam
        o.criterion = control
        variants.append(("control_\(control.rawValue)", EAMPass.apply(model, statistics: calibration.perHead, options: o)))
      }
      for (name, variant) in variants {
        let bytes: [UInt8]
        do throws(FormatError) { bytes = try Emitter.artifact(for: variant, settings: EmitSettings()) } catch {
          throw CompileError("\(source): \(error.message)")
        }
        let m = try Evaluation.model(bytes: bytes, name: name, threads: options.threads)
        report.fidelity.append((name, Fidelity.compare(try Evaluation.outputs(m, images: options.evalImages),
                                                       reference: reference, width: width, classifier: classifier)))
      }
    }
    return (compressed, report)
  }

  static func frozenFractions(_ m: ModelDescription, block: Int) -> [Float] {
    let b = m.blocks[block]
    let t = m.tokens
    return (0..<b.heads).map { h in
      Float(b.frozen.first { $0.head == h }?.frozenEntries ?? 0) / Float(max(1, t * t))
    }
  }

  /// What was tried for the selection and the frozen value, and why the defaults are what they are.
  static let methodNotes = [
    "Selection: entries ranked by the Shannon entropy of their 32-bin half-octave histogram across calibration images, standard deviation breaking ties; controls at the same sparsity: lowest standard deviation, and uniformly random.",
    "Frozen value: the calibrated mean, quantised to attn-bits with one scale per head (value = code × max/(2^bits − 1)).",
    "Run time: frozen entries keep their value; free entries share the probability mass left (softmax over free positions × (1 − Σ frozen)).",
  ]
}

extension AttentionStatistics {
  func with(origin: String) -> AttentionStatistics {
    var copy = self
    copy.origin = origin
    return copy
  }
}
