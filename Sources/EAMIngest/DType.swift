/// Element types found in checkpoints. Floating types are what weights use; integer and bool types
/// are accepted too (buffers such as counters) and converted to f32 like the others.
enum DType: String, Sendable, CaseIterable {
  case f32, f16, bf16, f64
  case i64, i32, i16, i8, u8, bool

  /// Bytes per element.
  var size: Int {
    switch self {
    case .f64, .i64: 8
    case .f32, .i32: 4
    case .f16, .bf16, .i16: 2
    case .i8, .u8, .bool: 1
    }
  }

  var isFloatingPoint: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }

  /// PyTorch storage classes (`torch.FloatStorage`) and dtypes (`torch.float32`) by name.
  static func torch(_ name: String) -> DType? {
    switch name {
    case "FloatStorage", "float32", "float": .f32
    case "HalfStorage", "float16", "half": .f16
    case "BFloat16Storage", "bfloat16": .bf16
    case "DoubleStorage", "float64", "double": .f64
    case "LongStorage", "int64", "long": .i64
    case "IntStorage", "int32", "int": .i32
    case "ShortStorage", "int16", "short": .i16
    case "CharStorage", "int8": .i8
    case "ByteStorage", "uint8", "UntypedStorage": .u8
    case "BoolStorage", "bool": .bool
    default: nil
    }
  }

  /// safetensors dtype names.
  static func safetensors(_ name: String) -> DType? {
    switch name {
    case "F32": .f32
    case "F16": .f16
    case "BF16": .bf16
    case "F64": .f64
    case "I64": .i64
    case "I32": .i32
    case "I16": .i16
    case "I8": .i8
    case "U8": .u8
    case "BOOL": .bool
    default: nil
    }
  }

  /// NumPy type codes: kind letter and item size (`f4`, `i8`, `b1`, ...).
  static func numpy(kind: Character, size: Int) -> DType? {
    switch (kind, size) {
    case ("f", 4): .f32
    case ("f", 2): .f16
    case ("f", 8): .f64
    case ("i", 8): .i64
    case ("i", 4): .i32
    case ("i", 2): .i16
    case ("i", 1): .i8
    case ("u", 1): .u8
    case ("b", 1): .bool
    default: nil
    }
  }
}

/// Conversion of raw element bytes to f32.
enum Convert {
  /// `count` elements of `type` starting at byte `offset` of `bytes`, as f32. The caller has
  /// checked that `offset + count * type.size <= bytes.count`.
  static func floats(_ bytes: [UInt8], offset: Int, count: Int, type: DType, bigEndian: Bool) -> [Float] {
    precondition(offset >= 0 && count >= 0 && offset + count * type.size <= bytes.count)
    if count == 0 { return [] }
    return [Float](unsafeUninitializedCapacity: count) { out, initialized in
      bytes.withUnsafeBytes { raw in
        let src = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * type.size)])
        convert(src, into: out, type: type, bigEndian: bigEndian)
      }
      initialized = count
    }
  }

  private static func convert(_ src: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>,
                              type: DType, bigEndian: Bool) {
    let n = out.count
    guard let dst = out.baseAddress, let base = src.baseAddress else { return }
    switch type {
    case .f32:
      memcpyBytes(dst, base, n * 4)
      if bigEndian {
        let u = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self)
        for i in 0..<n { u[i] = u[i].byteSwapped }
      }
    case .f16:
      let table = halfTable
      table.withUnsafeBufferPointer { t in
        for i in 0..<n {
          var h = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
          if bigEndian { h = h.byteSwapped }
          dst[i] = t[Int(h)]
        }
      }
    case .bf16:
      for i in 0..<n {
        var h = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
        if bigEndian { h = h.byteSwapped }
        dst[i] = Float(bitPattern: UInt32(h) << 16)
      }
    case .f64:
      for i in 0..<n {
        var b = base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
        if bigEndian { b = b.byteSwapped }
        dst[i] = Float(Double(bitPattern: b))
      }
    case .i64:
      for i in 0..<n {
        var b = base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
        if bigEndian { b = b.byteSwapped }
        dst[i] = Float(Int64(bitPattern: b))
      }
    case .i32:
      for i in 0..<n {
        var b = base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
        if bigEndian { b = b.byteSwapped }
        dst[i] = Float(Int32(bitPattern: b))
      }
    case .i16:
      for i in 0..<n {
        var b = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
        if bigEndian { b = b.byteSwapped }
        dst[i] = Float(Int16(bitPattern: b))
      }
    case .i8:
      for i in 0..<n { dst[i] = Float(Int8(bitPattern: base.load(fromByteOffset: i, as: UInt8.self))) }
    case .u8:
      for i in 0..<n { dst[i] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
    case .bool:
      for i in 0..<n { dst[i] = base.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
    }
  }

  private static func memcpyBytes(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafeRawPointer, _ n: Int) {
    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n)
  }

  /// IEEE half → float for all 65536 bit patterns (exact).
  static let halfTable: [Float] = (0..<65536).map { halfToFloat(UInt16($0)) }

  static func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exp = Int((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
      // Zero or subnormal: mant * 2^-24.
      let v = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
      return sign != 0 ? -v : v
    }
    if exp == 31 {
      return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
    }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
  }
}
