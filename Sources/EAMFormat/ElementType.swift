/// The element type of a section.
public enum DType: UInt8, Sendable, CaseIterable {
  case f32 = 0, f16 = 1, bf16 = 2, i8 = 3, u8 = 4, i32 = 5

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .f32, .i32: 4
    case .f16, .bf16: 2
    case .i8, .u8: 1
    }
  }

  public var name: String {
    switch self {
    case .f32: "f32"
    case .f16: "f16"
    case .bf16: "bf16"
    case .i8: "i8"
    case .u8: "u8"
    case .i32: "i32"
    }
  }
}

/// How a section's bytes are stored.
public enum Compression: UInt8, Sendable {
  case none = 0
  case zstd = 1

  public var name: String { self == .none ? "none" : "zstd" }
}

/// How a section's elements are arranged.
public enum Layout: UInt8, Sendable {
  /// Row-major, as the shape says.
  case rowMajor = 0
  /// A linear weight `[N][K]` in 16-column panels (FORMAT.md), the runtime's GEMM layout.
  case panelPacked = 1

  public var name: String { self == .rowMajor ? "row-major" : "panel-packed" }

  /// Elements stored for `shape` in this layout (panel padding included), or nil on overflow.
  public func storedElements(shape: [Int]) -> Int? {
    var count = 1
    for (i, d) in shape.enumerated() {
      var dim = d
      if self == .panelPacked && i == 0 {
        // Rounded up to whole 16-row panels; a dimension near Int.max must not trap here.
        let (padded, o) = d.addingReportingOverflow(PanelPacking.panel - 1)
        if o { return nil }
        dim = padded / PanelPacking.panel * PanelPacking.panel
      }
      let (m, o) = count.multipliedReportingOverflow(by: dim)
      if o { return nil }
      count = m
    }
    return count
  }
}

/// Shapes in messages, e.g. "[384, 1152]" (Embedded Swift cannot print arrays by interpolation).
public enum Shape {
  public static func text(_ shape: [Int]) -> String {
    var s = "["
    for (i, d) in shape.enumerated() { s += (i == 0 ? "" : ", ") + String(d) }
    return s + "]"
  }
}
