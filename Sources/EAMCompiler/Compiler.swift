import EAMFormat
import EAMIngest

#if canImport(Glibc)
import Glibc
#endif

/// A compile failure: one line naming the file and what is wrong.
public struct CompileError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Options of `eamc compile`.
public struct CompileOptions: Sendable {
  public var precision: WeightPrecision = .f32
  public var overrides = ModelOverrides()
  public init() {}

  /// The flags as recorded in the manifest, in a fixed order.
  public var normalisedArguments: [String] {
    var args = ["--weights=\(precision.rawValue)"]
    if let h = overrides.heads { args.append("--heads=\(h)") }
    if let i = overrides.imageSize { args.append("--image-size=\(i)") }
    if let r = overrides.resizeShorterSide { args.append("--resize=\(r)") }
    if let c = overrides.cropSize { args.append("--crop=\(c)") }
    if let m = overrides.mean { args.append("--mean=" + m.map { "\($0)" }.joined(separator: ",")) }
    if let s = overrides.std { args.append("--std=" + s.map { "\($0)" }.joined(separator: ",")) }
    return args
  }
}

/// What a compile did, for the command line.
public struct CompileSummary: Sendable {
  public var model: ModelDescription
  public var origin: String
  public var format: ContainerFormat
  public var artifactBytes: Int
  public var floatBytes: Int
}

/// The compiler's pipeline: ingest → model → (calibrate → compress) → emit.
public enum Compiler {
  /// Reads a checkpoint and recognises its architecture.
  public static func load(_ path: String, overrides: ModelOverrides) throws(CompileError) -> (Checkpoint, ModelDescription) {
    let checkpoint: Checkpoint
    do throws(IngestError) {
      checkpoint = try CheckpointReader.read(path: path)
    } catch {
      throw CompileError(error.description)
    }
    do throws(ModelError) {
      return (checkpoint, try Recognition.describe(checkpoint, overrides: overrides))
    } catch {
      throw CompileError(error.at(path).description)
    }
  }

  public static func compile(_ input: String, to output: String, options: CompileOptions) throws(CompileError) -> CompileSummary {
    let (checkpoint, model) = try load(input, overrides: options.overrides)
    var settings = EmitSettings()
    settings.precision = options.precision
    settings.arguments = options.normalisedArguments
    settings.sourceName = input.split(separator: "/").last.map(String.init) ?? input
    settings.sourceFormat = checkpoint.format.rawValue
    settings.sourceSHA256 = (try? FileHash.sha256(path: input)) ?? ""
    let bytes: [UInt8]
    do throws(FormatError) {
      bytes = try Emitter.artifact(for: model, settings: settings)
    } catch {
      throw CompileError("\(output): \(error.message)")
    }
    do throws(AtomicFile.WriteError) {
      try AtomicFile.write(bytes, to: output)
    } catch {
      throw CompileError(error.description)
    }
    return CompileSummary(model: model, origin: checkpoint.origin, format: checkpoint.format,
                          artifactBytes: bytes.count, floatBytes: model.parameterCount * 4)
  }
}

/// Hashes of whole files.
enum FileHash {
  struct ReadError: Error {}

  static func sha256(path: String) throws(ReadError) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ReadError() }
    defer { close(fd) }
    var h = SHA256()
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 { throw ReadError() }
      if n == 0 { break }
      chunk.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return h.finalizeHex()
  }
}
