import EAMImage
import Foundation

/// Checks that the command line runs before any long work, so that a missing output folder or a
/// broken image is reported at once, not after minutes of calibration.
public enum Preflight {
  /// The file `path` can be created: its folder exists and is writable, and it is not a folder.
  public static func writable(_ path: String, what: String) throws(CompileError) {
    let folder = (path as NSString).deletingLastPathComponent
    let dir = folder.isEmpty ? "." : folder
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
      throw CompileError("\(path): the \(what)'s folder '\(dir)' does not exist (create it first)")
    }
    guard isDir.boolValue else { throw CompileError("\(path): '\(dir)' is not a folder") }
    guard access(dir, W_OK) == 0 else { throw CompileError("\(path): the folder '\(dir)' is not writable") }
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
      throw CompileError("\(path): is a folder (the \(what) is a file)")
    }
  }

  /// The checkpoint `path` is a readable file; folders and exported formats are named.
  public static func checkpoint(_ path: String) throws(CompileError) {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      throw CompileError("\(path): no such file")
    }
    if isDir.boolValue {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
      if names.contains("saved_model.pb") || names.contains("saved_model.pbtxt") {
        throw CompileError("\(path): a TensorFlow SavedModel folder: not supported yet; export the PyTorch weights (timm) as .safetensors or .pth")
      }
      if let weights = names.sorted().first(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".pth") }) {
        throw CompileError("\(path): is a folder; give the weights file in it, e.g. \((path as NSString).appendingPathComponent(weights))")
      }
      throw CompileError("\(path): is a folder, not a checkpoint file")
    }
    guard access(path, R_OK) == 0 else { throw CompileError("\(path): not readable") }
  }

  /// Decodes every image (as calibration and evaluation will) and hashes its content; the first
  /// broken one is the error. Returns the SHA-256 of each file, in order.
  public static func images(_ paths: [String], role: String) throws(CompileError) -> [String] {
    // Shown for large sets only: a dozen images decode in a blink.
    let progress: Progress? = paths.count >= 64 ? Progress("checking \(role) images", total: paths.count) : nil
    var hashes: [String] = []
    hashes.reserveCapacity(paths.count)
    for path in paths {
      do throws(ImageError) { _ = try ImageDecoder.decode(path: path) } catch { throw CompileError(error.description) }
      do throws(FileHash.ReadError) { hashes.append(try FileHash.sha256(path: path)) } catch {
        throw CompileError("\(path): cannot read")
      }
      progress?.advance()
    }
    progress?.finish()
    return hashes
  }

  /// Pairs (evaluation image, calibration image) with the same content.
  public static func overlap(_ eval: [String], hashes: [String], calibration: [String], calibrationHashes: [String])
    -> [(String, String)]
  {
    var byHash: [String: String] = [:]
    for (path, h) in zip(calibration, calibrationHashes) where byHash[h] == nil { byHash[h] = path }
    return zip(eval, hashes).compactMap { path, h in byHash[h].map { (path, $0) } }
  }

  /// Evaluation images whose content is among an artifact's recorded calibration image hashes.
  public static func overlap(_ eval: [String], hashes: [String], calibrationHashes: [String]) -> [String] {
    let known = Set(calibrationHashes.map { $0.lowercased() })
    return zip(eval, hashes).compactMap { path, h in known.contains(h.lowercased()) ? path : nil }
  }

  /// Evaluation images whose content is among the images calibration statistics were computed from.
  public static func overlap(_ eval: [String], hashes: [String], statistics paths: [String]) throws(CompileError) -> [String] {
    var found: [String] = []
    for file in paths {
      let s: AttentionStatistics
      do throws(StatisticsError) { s = try AttentionStatistics(contentsOf: file) } catch { throw CompileError(error.description) }
      for (path, h) in zip(eval, hashes) {
        if let d = ImageDigest(hex: h), s.images.contains(d), !found.contains(path) { found.append(path) }
      }
    }
    return found
  }

  /// The calibration-set hash that these images would give (SHA-256 of the sorted digests), to
  /// compare with an artifact's, which stores only the set's hash.
  public static func setHash(_ hashes: [String]) -> String {
    var set = CalibrationImages()
    for h in hashes { if let d = ImageDigest(hex: h) { _ = set.insert(d) } }
    return set.hash
  }

  /// Checks the configured thread count: 1 up to 1024.
  public static func threads(_ n: Int?, flag: String = "--threads") -> String? {
    guard let n else { return nil }
    return (1...1024).contains(n) ? nil : "\(flag) must be 1 to 1024, not \(n)"
  }
}
