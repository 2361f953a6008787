import EAMFormat

/// Why a model could not be loaded or run. `description` is one line naming the file.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var path: String?

  public init(_ message: String, path: String? = nil) {
    self.message = message
    self.path = path
  }

  init(_ error: FormatError) {
    self.message = error.message
    self.path = error.path
  }

  public var description: String { path.map { "\($0): \(message)" } ?? message }
}
