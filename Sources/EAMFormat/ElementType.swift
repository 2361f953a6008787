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
  /// Format 1.2: int8 codes of a linear weight `[N][K]` for the dot-product instructions:
  /// 16-column panels, k in groups of 4 (K padded to a multiple of 4), `N16 · K4` bytes.
  case int8Panels = 2
  /// Format 1.2: int4 codes of a linear weight `[N][K]`, two nibbles a byte: 16-column panels of
  /// 8 bytes per k, `N16 · K / 2` bytes.
  case int4Panels = 3

  public var name: String {
    switch self {
    case .rowMajor: "row-major"
    case .panelPacked: "panel-packed"
    case .int8Panels: "int8-panels"
    case .int4Panels: "int4-panels"
    }
  }

  /// Elements stored for `shape` in this layout (panel padding included), or nil on overflow or
  /// a shape the layout cannot hold (the panel layouts are 2-D).
  public func storedElements(shape: [Int]) -> Int? {
    func roundUp(_ d: Int, _ m: Int) -> Int? {
      // A dimension near Int.max must not trap here.
      let (padded, o) = d.addingReportingOverflow(m - 1)
      return o ? nil : padded / m * m
    }
    func product(_ a: Int, _ b: Int) -> Int? {
      let (m, o) = a.multipliedReportingOverflow(by: b)
      return o ? nil : m
    }
    switch self {
    case .rowMajor, .panelPacked:
      var count = 1
      for (i, d) in shape.enumerated() {
        var dim = d
        if self == .panelPacked && i == 0 {
          guard let padded = roundUp(d, PanelPacking.panel) else { return nil }
          dim = padded
        }
        guard let m = product(count, dim) else { return nil }
        count = m
      }
      return count
    case .int8Panels:
      guard shape.count == 2, let n = roundUp(shape[0], PanelPacking.panel), let k = roundUp(shape[1], 4) else { return nil }
      return product(n, k)
    case .int4Panels:
      guard shape.count == 2, let n = roundUp(shape[0], PanelPacking.panel), let bytes = product(n / 2, shape[1]) else {
        return nil
      }
      return bytes
    }
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
