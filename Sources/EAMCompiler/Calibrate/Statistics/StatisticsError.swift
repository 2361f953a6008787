/// Why calibration statistics could not be built, merged, encoded or read. `description` is one
/// line for the user and names the `.eamstats` file concerned when there is one.
public struct StatisticsError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What went wrong, for tests and callers that react differently.
  public enum Kind: Equatable, Sendable {
    /// Layers, heads, tokens or an index do not fit the statistics' shape.
    case shape
    /// Binning parameters that are invalid, or that differ between statistics being merged.
    case binning
    /// Another observation or image would exceed `AttentionStatistics.maxObservations`.
    case capacity
    /// The same image (by content hash) was recorded twice, or in both statistics being merged.
    case duplicateImage
    /// The statistics being merged were computed from different models.
    case model
    /// The file could not be read or written.
    case io
    /// Not a `.eamstats` file, or a version this build does not read.
    case notStatistics
    /// The file is shorter than its contents say.
    case truncated
    /// The checksum does not match: the file was damaged.
    case checksum
    /// A field is out of range or inconsistent (a damaged or hostile file).
    case invalid
  }

  public var kind: Kind
  public var message: String
  /// The file concerned, when known.
  public var path: String?

  public init(_ kind: Kind, _ message: String, path: String? = nil) {
    self.kind = kind
    self.message = message
    self.path = path
  }

  /// The same error, naming `path` unless it already names a file.
  public func at(_ path: String?) -> StatisticsError {
    var copy = self
    if copy.path == nil { copy.path = path }
    return copy
  }

  public var description: String {
    let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    return path.map { "\($0): \(line)" } ?? line
  }
}
