import Foundation
import Testing

@testable import EAMRunSupport

/// `.npy` files on which eam-run's reader trapped (found while fuzzing or reviewing it,
/// docs/FUZZING.md). Each must now either be refused with one line naming the file or read as
/// exactly as many values as its shape holds. (They also stay in the fuzz corpus,
/// `Fuzz/corpus/eam-run-npy/regression-*`.)
@Suite struct FuzzRegressions {
  static let folder = Bundle.module.resourcePath! + "/Fixtures/regressions"
  static let files: [String] = (try? FileManager.default.contentsOfDirectory(atPath: folder))?
    .filter { !$0.hasPrefix(".") }.sorted() ?? []

  @Test func thereAreRegressionInputs() { #expect(!Self.files.isEmpty) }

  @Test(arguments: files)
  func readOrRefused(_ name: String) throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + name)))
    switch Self.decode(bytes, name: name) {
    case .success(let array): #expect(array.values.count == array.shape.reduce(1, *))
    case .failure(let error): #expect(error.message.hasPrefix(name + ": ") && !error.message.contains("\n"), "\(error.message)")
    }
  }

  static func decode(_ bytes: [UInt8], name: String) -> Result<(shape: [Int], values: [Float]), NPYFile.Failure> {
    bytes.withUnsafeBytes { raw in Result { () throws(NPYFile.Failure) in try NPYFile.decode(raw, name: name) } }
  }

  /// A dimension of 0 empties the array whatever the others are: the row strides of the other
  /// dimensions (2^93 here) are not computed.
  @Test func emptyArrayWithHugeDimensions() throws {
    let bytes = Self.npy(descr: "<f4", fortran: true, shape: "(0, 2147483648, 2147483648, 2147483648)", data: [])
    let array = try Self.decode(bytes, name: "x.npy").get()
    #expect(array.shape == [0, 1 << 31, 1 << 31, 1 << 31] && array.values.isEmpty)
  }

  /// Versions other than 1 to 3, ranks over 64 and signed or non-decimal dimensions are refused.
  @Test func headerDomain() {
    var v4 = Self.npy(descr: "<f4", fortran: false, shape: "(1,)", data: [0, 0, 0, 0])
    v4[6] = 4
    for (bytes, what) in [
      (v4, "format version 4"),
      (Self.npy(descr: "<f4", fortran: false, shape: "(" + String(repeating: "1,", count: 65) + ")", data: [0, 0, 0, 0]), "shape"),
      (Self.npy(descr: "<f4", fortran: false, shape: "(+1,)", data: [0, 0, 0, 0]), "shape"),
      (Self.npy(descr: "<f4", fortran: false, shape: "(-1,)", data: []), "shape"),
      (Self.npy(descr: "<f2", fortran: false, shape: "(2,)", data: [0, 0, 0, 0]), "'<f2'"),
    ] {
      guard case .failure(let error) = Self.decode(bytes, name: "x.npy") else {
        Issue.record("\(what): read")
        continue
      }
      #expect(error.message.hasPrefix("x.npy: ") && error.message.contains(what), "\(error.message)")
    }
  }

  /// Every type, byte order, memory order and header version eam-run reads gives the same values.
  @Test func everyEncodingReadsTheSame() throws {
    let shape = [2, 3, 4]
    let values = (0..<24).map { Float($0) * 0.5 - 3 }
    for version: UInt8 in 1...3 {
      for descr in ["<f4", ">f4", "<f8", ">f8"] {
        for fortran in [false, true] {
          // File order: Fortran order has the first index varying fastest.
          let order = fortran ? (0..<24).map { f in (f % 2) * 12 + (f / 2 % 3) * 4 + f / 6 } : Array(0..<24)
          var data: [UInt8] = []
          for i in order {
            let big = descr.hasPrefix(">")
            if descr.hasSuffix("f4") {
              withUnsafeBytes(of: big ? values[i].bitPattern.bigEndian : values[i].bitPattern.littleEndian) { data += $0 }
            } else {
              let bits = Double(values[i]).bitPattern
              withUnsafeBytes(of: big ? bits.bigEndian : bits.littleEndian) { data += $0 }
            }
          }
          let bytes = Self.npy(descr: descr, fortran: fortran, shape: "(2, 3, 4)", data: data, version: version)
          let array = try Self.decode(bytes, name: "x.npy").get()
          #expect(array.shape == shape && array.values == values, "v\(version) \(descr) fortran \(fortran)")
        }
      }
    }
  }

  /// A `.npy` file as NumPy lays it out (header padded to 64 bytes).
  static func npy(descr: String, fortran: Bool, shape: String, data: [UInt8], version: UInt8 = 1) -> [UInt8] {
    let prefix = version == 1 ? 10 : 12
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
    while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let n = header.utf8.count
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0, UInt8(n & 0xff), UInt8(n >> 8)]
    if version > 1 { out += [0, 0] }
    return out + Array(header.utf8) + data
  }
}
