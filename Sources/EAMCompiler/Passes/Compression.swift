import EAMFormat
import EAMRuntime

/// The compress stage: calibration statistics → EAM → the report's measurements.
enum Compression {
  static func apply(_ eam: EAMOptions, to model: ModelDescription, settings: inout EmitSettings, options: CompileOptions,
                    source: String) throws(CompileError) -> (ModelDescription, CompileReport)
  {
    guard (0...1).contains(eam.sparsity) else { throw CompileError("--sparsity must be between 0 and 1, not \(eam.sparsity)") }
    guard (1...8).contains(eam.bits) else { throw CompileError("--attn-bits must be 1 to 8, not \(eam.bits)") }
    guard model.architecture.family != .swin || eam.sparsity == 0 else {
      throw CompileError("\(source): frozen maps for Swin's window attention are not supported yet (--sparsity 0 compiles with the calibration report; eamc calibrate writes Swin's window-pooled statistics)")
    }
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
    // Entropy resolution: given, or chosen on calibration images (never the held-out ones).
    var validation: [(Float, Double)] = []
    var resolution = eam.entropyResolution ?? EAMOptions.defaultEntropyResolution
    if eam.entropyResolution == nil, eam.sparsity > 0, eam.criterion == .entropy {
      let images = Array(Calibration.select(options.calibrationImages, options: options.calibration).prefix(16))
      if !images.isEmpty {
        let reference = try Evaluation.outputs(floatModel, images: images)
        for candidate in EAMOptions.resolutionCandidates {
          let c = Calibration.result(statistics, model: model, entropyResolution: candidate)
          let m = try Evaluation.model(bytes: try emit(EAMPass.apply(model, statistics: c.perHead, options: eam), source: source),
                                       name: "candidate", threads: options.threads)
          let f = Fidelity.compare(try Evaluation.outputs(m, images: images), reference: reference,
                                   width: floatModel.outputWidth, classifier: false)
          validation.append((candidate, f.meanCosine))
        }
        resolution = validation.max { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 > $1.0) }!.0
      }
    }
    var chosen = eam
    chosen.entropyResolution = resolution
    let calibration = Calibration.result(statistics, model: model, entropyResolution: resolution)
    let compressed = EAMPass.apply(model, statistics: calibration.perHead, options: chosen)

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
    report.frozenValue = eam.frozenValue.rawValue
    report.entropyResolution = resolution
    report.methodNotes = methodNotes + [
      "Entropy resolution: 1/\(Int((1 / resolution).rounded()))" + (validation.isEmpty ? "." :
        " (chosen on \(min(16, options.calibrationImages.count)) calibration images; mean cosine " +
        validation.map { "1/\(Int((1 / $0.0).rounded())): \(String(format: "%.5f", $0.1))" }.joined(separator: ", ") + ").")]
    if !options.evalImages.isEmpty {
      report.evalImages = options.evalImages.count
      let width = floatModel.outputWidth, classifier = model.architecture.numClasses > 0
      // The EAM model: per-block error and outputs in one pass over the held-out images, which
      // also gives the float model's outputs for every comparison.
      let eamModel = try Evaluation.model(bytes: try emit(compressed, source: source), name: "eam", threads: options.threads)
      let drift = try LayerError.measure(eamModel, reference: floatModel, images: options.evalImages)
      let reference = drift.referenceOutputs
      report.layerError = drift.relative
      report.layerErrorImages = "held-out"
      report.fidelity.append(("eam", Fidelity.compare(drift.outputs, reference: reference, width: width, classifier: classifier)))
      for control in [SelectionCriterion.std, .random] where control != eam.criterion {
        var o = chosen
        o.criterion = control
        let name = "control_\(control.rawValue)"
        let m = try Evaluation.model(bytes: try emit(EAMPass.apply(model, statistics: calibration.perHead, options: o), source: source),
                                     name: name, threads: options.threads)
        report.fidelity.append((name, Fidelity.compare(try Evaluation.outputs(m, images: options.evalImages),
                                                       reference: reference, width: width, classifier: classifier)))
      }
    }
    if report.layerError.isEmpty, !options.calibrationImages.isEmpty {
      // Without held-out images, the drift is still worth seeing: on a few calibration images.
      let images = Array(Calibration.select(options.calibrationImages, options: options.calibration).prefix(4))
      let m = try Evaluation.model(bytes: try emit(compressed, source: source), name: "eam", threads: options.threads)
      report.layerError = try LayerError.measure(m, reference: floatModel, images: images).relative
      report.layerErrorImages = "calibration"
    }
    return (compressed, report)
  }

  static func emit(_ m: ModelDescription, source: String) throws(CompileError) -> [UInt8] {
    do throws(FormatError) { return try Emitter.artifact(for: m, settings: EmitSettings()) } catch {
      throw CompileError("\(source): \(error.message)")
    }
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
    "Selection: entries ranked by the Shannon entropy of their histogram across calibration images at an absolute resolution (half-octave bins below it merged), standard deviation breaking ties; controls at the same sparsity and with the same frozen values: lowest standard deviation, and uniformly random.",
    "Frozen value: the entry's median over the calibration images (read off its histogram), quantised to attn-bits with one scale per head, the scale that minimises the squared code error. Run time: frozen entries keep their value; free entries share the probability mass left (softmax over free positions × (1 − Σ frozen)).",
    "Tried (DINOv2-S/14, 2 bits, 47 calibration / 15 held-out real images, mean cosine at 20% / 30%): frozen to the mean 0.99884 / 0.99745; to the median 0.99946 / 0.99760; to the 0.4 and 0.6 quantiles 0.99953 / 0.99695 and 0.99929 / 0.99802; to 0 (drop and renormalise) 0.99930 / 0.99449 (8 bits); half the mean 0.99943 / 0.99685 (8 bits). More bits with the mean made it worse (8 bits: 0.99873 / 0.99723): the mean itself, not its quantisation, was the error.",
    "Tried: entropy of the raw half-octave histogram (relative resolution) ranked tiny fluctuating entries as informative (0.99022 vs random 0.99354 at 20%, 4 bundled held-out images). With the median, resolution 1/256: 0.99952 / 0.99824 but 0.97913 at 50% (std control 0.98742); 1/128: 0.99946 / 0.99760 and 0.98968 at 50%, at or above the std control at every sparsity from 10% to 50%; 1/64 ranks nearly every frozen candidate at entropy 0 and equals the std control. Choosing the resolution on calibration images (auto) is judged on the images the statistics came from and picked 1/64 at 30% (0.99728): hence the fixed default 1/128.",
  ]
}

extension AttentionStatistics {
  func with(origin: String) -> AttentionStatistics {
    var copy = self
    copy.origin = origin
    return copy
  }
}
