/// Why an artifact could not be read or written. `description` is one line for the user.
public struct FormatError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What went wrong, for tests and callers that react differently.
  public enum Kind: Equatable, Sendable {
    case io
    case truncated
    case notAnArtifact
    case unsupportedVersion
    case metadataChecksum
    case sectionChecksum
    case invalid
    case compression
    /// Valid, but this build cannot read it (a zstd section in a runtime built without zstd).
    case unsupported
  }

  public var kind: Kind
  /// The file concerned, when known.
  public var path: String?
  public var message: String

  public init(_ kind: Kind, _ message: String, path: String? = nil) {
    self.kind = kind
    self.message = message
    self.path = path
  }

  /// The same error, naming `path`.
  public func at(_ path: String) -> FormatError {
    var copy = self
    if copy.path == nil { copy.path = path }
    return copy
  }

  public var description: String {
    if let path { return "\(path): \(message)" }
    return message
  }
}
