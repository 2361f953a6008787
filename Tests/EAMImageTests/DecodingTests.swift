import Foundation
import Testing

@testable import EAMImage

/// Decoding checked against PIL's `Image.open(p).convert("RGB")` (expected arrays from
/// `scripts/make_image_fixtures.py`).
@Suite struct DecodingTests {
  static let synthetic = [
    "rgb8.png", "grey8.png", "grey1.png", "grey16.png", "la8.png", "rgba8.png", "p8.png",
    "p8-trns.png", "grey4.png", "grey2.png", "p4-short.png", "p2.png", "p8-short.png",
    "rgb16.png", "rgba16.png", "la16.png", "grey16-trns.png", "rgb8-trns.png",
    "rgb8-adam7.png", "q90-420.jpg", "q95-444.jpg", "q80-422.jpg", "progressive.jpg", "grey.jpg", "cmyk.jpg",
  ]

  @Test(arguments: synthetic)
  func matchesPIL(_ name: String) throws {
    let image = try ImageDecoder.decode(path: Fixtures.path("decode/" + name))
    let expected = try NPYArray(path: Fixtures.path("decode/" + name + ".rgb.npy"))
    #expect(expected.shape == [image.height, image.width, 3])
    let diff = compare(image.pixels, expected.uint8)
    #expect(diff.differing == 0, "\(name): \(diff.differing) samples differ, max |diff| \(diff.maxDiff)")
  }

  static let bad = [
    "bad-truncated.jpg", "bad-truncated.png", "bad-header.jpg", "bad-crc.png", "bad-format.gif",
    "bad-empty.png", "bad-huge.png",
  ]

  @Test(arguments: bad)
  func rejectsBadInput(_ name: String) {
    let path = Fixtures.path("decode/" + name)
    do {
      _ = try ImageDecoder.decode(path: path)
      Issue.record("\(name) decoded although PIL rejects it")
    } catch {
      let text = error.description
      #expect(text.hasPrefix(path), "\(text)")
      #expect(!text.contains("\n"))
      if name == "bad-huge.png" {
        #expect(text.contains("exceed"), "\(text)")
      }
    }
  }

  @Test func missingFileNamesThePath() {
    #expect(throws: ImageError.self) { try ImageDecoder.decode(path: "/nonexistent/x.jpg") }
    do { _ = try ImageDecoder.decode(path: "/nonexistent/x.jpg") } catch {
      #expect(error.description.hasPrefix("/nonexistent/x.jpg: cannot read"))
    }
  }

  /// Truncations and byte flips of valid files either decode or throw a one-line error naming
  /// the input; they never crash or exit.
  @Test(arguments: ["q90-420.jpg", "progressive.jpg", "cmyk.jpg", "rgb8.png", "p4-short.png", "rgb8-adam7.png"])
  func damagedInputNeverCrashes(_ name: String) throws {
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("decode/" + name))))
    var variants: [[UInt8]] = []
    for cut in Swift.stride(from: 0, to: original.count, by: 5) { variants.append(Array(original[..<cut])) }
    for position in Swift.stride(from: 2, to: original.count, by: 3) {
      var flipped = original
      flipped[position] ^= UInt8(truncatingIfNeeded: 0x5A &+ position)
      variants.append(flipped)
    }
    var rejected = 0
    for bytes in variants {
      do {
        let image = try ImageDecoder.decode(bytes: bytes, name: "damaged-" + name)
        #expect(image.pixels.count == image.width * image.height * 3)
      } catch {
        rejected += 1
        #expect(error.description.hasPrefix("damaged-\(name): ") && !error.description.contains("\n"),
                "\(error.description)")
      }
    }
    #expect(rejected > 0)
  }

  /// Every calib image decodes to exactly PIL's RGB (checksum of the whole array).
  @Test func calibImagesMatchPIL() throws {
    let rows = try CalibTable.load()
    #expect(rows.count >= 60)
    var exact = 0
    for row in rows {
      let image = try ImageDecoder.decode(path: Fixtures.calibDirectory + "/" + row.name)
      #expect(image.width == row.width && image.height == row.height, "\(row.name)")
      let ok = checksum(image.pixels) == row.decoded.checksum
      #expect(ok, "\(row.name): decoded RGB differs from PIL (sum \(image.pixels.reduce(0) { $0 + UInt64($1) }) vs \(row.decoded.sum))")
      if ok { exact += 1 }
    }
    print("decode: \(exact)/\(rows.count) calib images bit-exact with PIL")
  }
}

/// `Fixtures/calib.tsv`: per calib image, sum + checksum of the decoded RGB and of the
/// Resize+CenterCrop output for each configuration in the header.
struct CalibTable {
  struct Entry { var sum: UInt64; var checksum: UInt64 }
  struct Row { var name: String; var width: Int; var height: Int; var decoded: Entry; var crops: [Entry] }
  struct Config { var resize: Int; var crop: Int; var interpolation: Interpolation }

  static func parseEntry(_ s: Substring) -> Entry {
    let parts = s.split(separator: ":")
    return Entry(sum: UInt64(parts[0])!, checksum: UInt64(parts[1])!)
  }

  static func configs() throws -> [Config] {
    let text = try String(contentsOfFile: Fixtures.path("calib.tsv"), encoding: .utf8)
    let header = text.split(separator: "\n")[0].split(separator: "\t").dropFirst(4)
    return header.map { column in
      let parts = column.split(separator: ":")[0].split(separator: "/")
      return Config(resize: Int(parts[0])!, crop: Int(parts[1])!,
                    interpolation: parts[2] == "bicubic" ? .bicubic : .bilinear)
    }
  }

  static func load() throws -> [Row] {
    let text = try String(contentsOfFile: Fixtures.path("calib.tsv"), encoding: .utf8)
    return text.split(separator: "\n").dropFirst().map { line in
      let f = line.split(separator: "\t")
      return Row(name: String(f[0]), width: Int(f[1])!, height: Int(f[2])!,
                 decoded: parseEntry(f[3]), crops: f[4...].map(parseEntry))
    }
  }
}
