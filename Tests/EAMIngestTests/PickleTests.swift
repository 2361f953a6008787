import Testing
@testable import EAMIngest

/// Hand-assembled hostile pickles (protocol 4 opcodes).
@Suite struct PickleTests {
  private func read(_ bytes: [UInt8]) -> String? {
    do {
      _ = try CheckpointReader.read(bytes: bytes)
      return nil
    } catch {
      return error.description
    }
  }

  private func unicode(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }

  @Test func hugeLengthsAreRefusedBeforeAllocating() {
    // BINUNICODE8 claiming 2^62 bytes; BINBYTES8; LONG4 with a huge length.
    for op: UInt8 in [0x8D, 0x8E] {
      let bytes: [UInt8] = [0x80, 4, op, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x2E]
      #expect(read(bytes)?.contains("exceeds") == true)
    }
    #expect(read([0x80, 4, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]) != nil)
    #expect(read([0x80, 4, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]) != nil)
  }

  @Test func missingMemoAndStackUnderflow() {
    #expect(read([0x80, 4, 0x6A, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E])?.contains("memo") == true)
    #expect(read([0x80, 4, 0x2E])?.contains("underflow") == true)
    #expect(read([0x80, 4, 0x52, 0x2E])?.contains("underflow") == true)
    #expect(read([0x80, 4, 0x65, 0x2E])?.contains("MARK") == true)
    #expect(read([0x80, 4, 0xFF, 0x2E])?.contains("0xff") == true)
    #expect(read([0x80, 9, 0x4E, 0x2E])?.contains("protocol 9") == true)
  }

  /// `os.system('touch ...')` by STACK_GLOBAL: the error names the opcode, offset and global.
  @Test func stackGlobalIsNamedInTheError() throws {
    var bytes: [UInt8] = [0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0]
    bytes += unicode("os") + unicode("system")
    let globalOffset = bytes.count
    bytes += [0x93] + unicode("touch /tmp/eamc_never") + [0x85, 0x52, 0x2E]
    let message = try #require(read(bytes))
    #expect(message.contains("pickle opcode 0x93 (STACK_GLOBAL) at offset \(globalOffset) refers to global 'os.system', which is not allowed"), "\(message)")
  }

  /// Placeholders are inert: items added to them vanish, calling them yields placeholders.
  @Test func placeholdersAreInert() throws {
    // {'w': posix.system('x'), 'v': <placeholder>()} with SETITEMS on a placeholder.
    var bytes: [UInt8] = [0x80, 4, 0x7D, 0x28]
    bytes += unicode("w") + unicode("posix") + unicode("system") + [0x93] + unicode("x") + [0x85, 0x52]
    bytes += [0x94, 0x28] + unicode("k") + unicode("v") + [0x75]  // SETITEMS on the placeholder
    bytes += [0x75, 0x2E]
    let message = try #require(read(bytes))
    #expect(message.contains("posix.system"))
  }
}

/// Detection by content: a safetensors file whose header length starts with 0x80 (PROTO).
@Test func safetensorsHeaderLengthLookingLikeProto() throws {
  var header = Array(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
  while header.count < 0x280 { header.append(0x20) }  // Spaces are allowed after the JSON.
  var bytes: [UInt8] = [0x80, 0x02, 0, 0, 0, 0, 0, 0] + header
  bytes += [0, 0, 0x80, 0x3F]
  let ck = try CheckpointReader.read(bytes: bytes)
  #expect(ck.format == .safetensors)
  #expect(ck.tensors["w"] == Tensor(shape: [1], values: [1]))
}
