/// The files a compile or calibration reads and writes, checked before any work (`OutputSet`).
public enum RunFiles {
  /// Where the report goes without `--report`: beside the artifact, `NAME.report.json`.
  public static func defaultReport(for artifact: String) -> String {
    (artifact.hasSuffix(".eam") ? String(artifact.dropLast(4)) : artifact) + ".report.json"
  }

  /// `OutputSet.check`, as a compile error.
  public static func check(outputs: [OutputSet.File], inputs: [OutputSet.File]) throws(CompileError) {
    do throws(OutputSet.WriteError) { try OutputSet.check(outputs: outputs, inputs: inputs) } catch {
      throw CompileError(error.description)
    }
  }
}

extension CompileOptions {
  /// Every file a compile of `checkpoint` with these options reads.
  public func inputFiles(checkpoint: String) -> [OutputSet.File] {
    [.init("checkpoint", checkpoint)] + statisticsFiles.map { .init("statistics file", $0) }
      + calibrationImages.map { .init("calibration image", $0) } + evalImages.map { .init("held-out image", $0) }
  }
}
