import EAMFormat
import EAMIngest
import EAMRuntime

/// `eamc eval`'s references, independent of what the artifact believes about itself: the
/// checkpoint recognised afresh (its own heads, preprocessing and family, not the artifact's),
/// and outputs the user's framework computed.
public enum IndependentReference {
  /// Where the artifact and the checkpoint, recognised afresh, disagree (each a sentence).
  public static func differences(artifact m: Manifest, fresh: ModelDescription) -> [String] {
    var out: [String] = []
    let a = m.architecture, b = fresh.architecture
    if a.family != b.family { out.append("family: artifact \(a.family.name), checkpoint \(b.family.name)") }
    if a.embedDim != b.embedDim || a.depth != b.depth { out.append("shape: artifact width \(a.embedDim) depth \(a.depth), checkpoint width \(b.embedDim) depth \(b.depth)") }
    let ha = m.blocks.map(\.heads), hb = fresh.blocks.map(\.heads)
    if ha != hb {
      out.append("heads: artifact \(ha.first ?? 0) per block, the checkpoint \(hb.first ?? 0) (\(fresh.headCount.describe(width: b.embedDim)))")
    }
    let p = m.preprocessing, q = fresh.preprocessing
    if p.resizeShorterSide != q.resizeShorterSide || p.cropSize != q.cropSize || p.mean != q.mean || p.std != q.std {
      out.append("preprocessing: artifact resize \(p.resizeShorterSide) crop \(p.cropSize) mean \(p.mean) std \(p.std), checkpoint's defaults resize \(q.resizeShorterSide) crop \(q.cropSize) mean \(q.mean) std \(q.std)")
    }
    return out
  }

  /// The checkpoint recognised afresh, as a float model in the runtime, and what it was.
  public static func model(_ path: String, threads: Int?) throws(CompileError) -> (Model, ModelDescription) {
    let (_, description) = try Compiler.load(path, overrides: ModelOverrides())
    return (try Evaluation.model(of: description, name: path, threads: threads, source: path), description)
  }

  /// The artifact's outputs against rows of a `.npy` (N × width, the images in name order).
  public static func compare(_ outputs: [Float], width: Int, npy path: String, images: Int, classifier: Bool)
    throws(CompileError) -> Fidelity
  {
    let t: Tensor
    do throws(IngestError) { t = try NPY.read(path: path) } catch { throw CompileError(error.description) }
    guard t.shape.count == 2, t.shape[0] == images, t.shape[1] == width else {
      throw CompileError("\(path): shape \(t.shape), expected [\(images), \(width)] (one row per image, in name order)")
    }
    return Fidelity.compare(outputs, reference: t.values, width: width, classifier: classifier)
  }
}
