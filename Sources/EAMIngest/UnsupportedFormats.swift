/// Files people try to compile that eamc does not read, named by their content, with what to do.
enum UnsupportedFormats {
  /// What the bytes are and what to do instead, or nil when they are none of the known formats.
  static func describe(_ bytes: [UInt8]) -> String? {
    func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
      bytes.count >= offset + magic.count && Array(bytes[offset..<(offset + magic.count)]) == magic
    }
    if starts([0x89, 0x45, 0x41, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A]) {
      return "this is an .eam artifact (already compiled), not a checkpoint: run it with `eamc run`, look at it with `eamc inspect`; compile the float checkpoint it came from instead"
    }
    if starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) {
      return "this is an HDF5 file (a Keras/TensorFlow .h5): not supported yet; export the PyTorch weights (timm) as .safetensors or .pth"
    }
    if starts(Array("TFL3".utf8), at: 4) {
      return "this is a TensorFlow Lite model: not supported yet (eamc reads float PyTorch, safetensors and NumPy weights)"
    }
    if starts(Array("GGUF".utf8)) {
      return "this is a GGUF file: not supported (eamc reads float PyTorch, safetensors and NumPy weights)"
    }
    if looksLikeONNX(bytes) {
      return "this is an ONNX model: not supported yet; give the PyTorch checkpoint it was exported from (.pth/.safetensors of the timm model)"
    }
    if looksLikeProtobufGraph(bytes) {
      return "this looks like a TensorFlow GraphDef/SavedModel protobuf (.pb): not supported yet; export the PyTorch weights as .safetensors or .pth"
    }
    return nil
  }

  /// ONNX ModelProto: field 1 `ir_version` (varint, tag 0x08; 3 or more since 2017) first, then
  /// `producer_name` (tag 0x12), `opset_import` (0x42), `graph` (0x3A), ... as exporters write.
  static func looksLikeONNX(_ b: [UInt8]) -> Bool {
    guard b.count >= 4, b[0] == 0x08, b[1] >= 3, b[1] < 0x40 else { return false }
    return [0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x42].contains(b[2])
  }

  /// TensorFlow's SavedModel (`saved_model.pb`: field 1 `saved_model_schema_version`, tag 0x08,
  /// then `meta_graphs`, tag 0x12) or a frozen GraphDef (field 1 `node`, tag 0x0A, whose NodeDef
  /// starts with its name, tag 0x0A).
  static func looksLikeProtobufGraph(_ b: [UInt8]) -> Bool {
    guard b.count >= 4 else { return false }
    if b[0] == 0x08, b[1] == 1, b[2] == 0x12 { return true }
    return b[0] == 0x0A && (b[2] == 0x0A || b[3] == 0x0A)
  }
}
