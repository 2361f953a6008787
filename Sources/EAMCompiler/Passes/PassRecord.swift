/// What one pass did, as the report shows it.
public struct PassRecord: Sendable {
  /// The pass's name: its key in the report.
  public var name: String
  /// The pass's section of the report, in a fixed key order (its settings and decisions).
  public var settings: [(String, JSON)] = []
  /// The method, a sentence or two per choice (the report's `method_notes`; the measurements
  /// behind the choices are in docs/METHOD.md).
  public var notes: [String] = []

  public init(name: String) { self.name = name }

  /// The value recorded under `key`, if any.
  public func setting(_ key: String) -> JSON? { settings.first { $0.0 == key }?.1 }
}
