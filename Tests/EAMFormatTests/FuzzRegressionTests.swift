import Foundation
import Testing

@testable import EAMFormat

/// `.eam` files on which opening or reading sections crashed or tried to allocate what the file
/// cannot hold (found while fuzzing, docs/FUZZING.md). Their checksums are valid, so each gets
/// past the metadata checksum; each must now be refused with a one-line `FormatError` naming the
/// file. (They also stay in the fuzz corpus, `Fuzz/corpus/eam-header/regression-*`.)
@Suite struct FuzzRegressions {
  static let folder = Bundle.module.resourcePath! + "/Fixtures/regressions"
  static let files: [String] = (try? FileManager.default.contentsOfDirectory(atPath: folder))?
    .filter { !$0.hasPrefix(".") }.sorted() ?? []

  @Test func thereAreRegressionInputs() { #expect(!Self.files.isEmpty) }

  @Test(arguments: files)
  func refused(_ name: String) throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + name)))
    #expect {
      let artifact = try Artifact(bytes: bytes, name: name)
      for section in artifact.sections { _ = try artifact.rawBytes(section) }
    } throws: { error in
      "\(error)".hasPrefix(name + ": ") && !"\(error)".contains("\n")
    }
  }

  /// Panel padding rounds the row count up to a multiple of 16: near Int.max that overflows.
  @Test func panelPaddingOverflowIsReported() {
    #expect(Layout.panelPacked.storedElements(shape: [Int.max, 1]) == nil)
    #expect(Layout.panelPacked.storedElements(shape: [Int.max - 14, 1]) == nil)
    #expect(Layout.panelPacked.storedElements(shape: [Int.max - 15, 1]) == Int.max - 15)
    #expect(Layout.panelPacked.storedElements(shape: [17, 3]) == 96)
  }

  /// A zstd frame's declared size must fit what its length can hold, checked before allocating.
  @Test func zstdDeclaredSizeIsCheckedAgainstTheFrame() throws {
    let raw = [UInt8](repeating: 7, count: 1 << 20)
    let frame = try raw.withUnsafeBytes { try Zstd.compress($0) }
    try frame.withUnsafeBytes { try Zstd.checkFrame($0, declares: raw.count) }
    #expect(throws: FormatError.self) { try frame.withUnsafeBytes { try Zstd.checkFrame($0, declares: raw.count + 1) } }
    #expect(Zstd.maximumContent(compressed: 9) == 1 << 17)
    #expect(Zstd.maximumContent(compressed: Int.max) == Int.max)
  }
}
