/// Why a checkpoint could not be understood as a model. One line for the user.
public struct ModelError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var path: String?

  public init(_ message: String, path: String? = nil) {
    self.message = message
    self.path = path
  }

  public func at(_ path: String) -> ModelError {
    var copy = self
    if copy.path == nil { copy.path = path }
    return copy
  }

  public var description: String { path.map { "\($0): \(message)" } ?? message }
}
