import EAMFormat

/// Why a model could not be loaded or run. `description` is one line naming the file.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
  /// What kind of failure, for callers that react differently (the C API's status codes).
  public enum Kind: Equatable, Sendable {
    /// The artifact is damaged, not an artifact, or holds values outside their domain.
    case invalid
    /// The file cannot be opened or mapped.
    case io
    /// The model needs more memory than its budget.
    case memory
    /// Valid, but this build cannot run it.
    case unsupported
    /// The caller's input does not fit the model.
    case input
  }

  public var kind: Kind
  public var message: String
  public var path: String?

  public init(_ message: String, path: String? = nil, kind: Kind = .invalid) {
    self.kind = kind
    self.message = message
    self.path = path
  }

  public init(_ error: FormatError) {
    self.message = error.message
    self.path = error.path
    switch error.kind {
    case .io: kind = .io
    case .unsupported: kind = .unsupported
    default: kind = .invalid
    }
  }

  public var description: String { path.map { "\($0): \(message)" } ?? message }
}
