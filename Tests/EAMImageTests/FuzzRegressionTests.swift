import Foundation
import Testing

@testable import EAMImage

/// Inputs on which the fuzz harnesses (Fuzz/, docs/FUZZING.md) crashed, hung or spent unbounded
/// time or memory. Each must now be refused with an `ImageError`. (They also stay in the fuzz
/// corpus, `Fuzz/corpus/{jpeg,png}/regression-*`.)
@Suite struct FuzzRegressions {
  static let files: [String] = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.path("regressions")))?
    .filter { !$0.hasPrefix(".") }.sorted() ?? []

  @Test func thereAreRegressionInputs() { #expect(!Self.files.isEmpty) }

  @Test(arguments: files)
  func refused(_ name: String) throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("regressions/" + name))))
    #expect {
      _ = try ImageDecoder.decode(bytes: bytes, name: name)
    } throws: { error in
      "\(error)".hasPrefix(name + ": ") && !"\(error)".contains("\n")
    }
  }
}
