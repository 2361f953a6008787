import Foundation
import Testing
@testable import EAMIngest

/// Every container × dtype × wrapping written by the fixture script reads back exactly.
@Suite struct ContainerTests {
  static let fixtures = Fixtures.section("fixtures").keys.sorted()

  @Test(arguments: fixtures)
  func readsBackExactly(_ name: String) throws {
    let info = try #require(Fixtures.section("fixtures")[name] as? [String: Any])
    let dtype = try #require(info["dtype"] as? String)
    let ck = try CheckpointReader.read(path: Fixtures.path(name))
    #expect(ck.format.rawValue == info["format"] as? String)
    let origin = try #require(info["origin"] as? String)
    #expect(ck.origin.contains(origin), "origin \(ck.origin) should contain \(origin)")
    expectTensors(ck, try #require(Fixtures.section("dtypes")[dtype] as? [String: Any]))
  }

  @Test func extrasAreListedAsIgnored() throws {
    let ck = try CheckpointReader.read(path: Fixtures.path("torch_f32_extras.pth"))
    let ignored = ck.ignored.joined(separator: "; ")
    for key in ["optimizer", "epoch", "args", "best_acc", "seen"] {
      #expect(ignored.contains("'\(key)'"), "\(key) missing from \(ignored)")
    }
    #expect(ignored.contains("argparse.Namespace"))
    #expect(ignored.contains("float 0.8125"))
  }

  @Test func timmPrefersRegularWeightsOverEMA() throws {
    let ck = try CheckpointReader.read(path: Fixtures.path("torch_bf16_timm_train.pth"))
    #expect(ck.origin == "entry 'state_dict'")
    #expect(ck.ignored.contains { $0.hasPrefix("'state_dict_ema'") })
  }

  @Test(arguments: ["views.pth", "views_legacy.pt"])
  func viewsAreMaterialised(_ name: String) throws {
    let ck = try CheckpointReader.read(path: Fixtures.path(name))
    expectTensors(ck, Fixtures.section("views"))
  }

  @Test func halfViewsAreMaterialised() throws {
    let ck = try CheckpointReader.read(path: Fixtures.path("views_f16.pth"))
    expectTensors(ck, Fixtures.section("views_f16"))
  }

  @Test(arguments: Fixtures.section("npy").keys.sorted())
  func npyFiles(_ name: String) throws {
    let want = try #require(expectedTensor(Fixtures.section("npy")[name]))
    #expect(try NPY.read(path: Fixtures.path(name)) == want)
    let ck = try CheckpointReader.read(path: Fixtures.path(name))
    #expect(ck.format == .npy)
    #expect(ck.tensors["array"] == want)
  }

  @Test func npyEncodeRoundTrips() throws {
    let t = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, .infinity, -0.25])
    let bytes = NPY.encode(t)
    #expect(bytes.count % 64 == 24 % 64 || (bytes.count - 24) % 64 == 0)
    #expect(try NPY.decode(bytes, range: 0..<bytes.count) == t)
    let scalar = Tensor(shape: [], values: [7])
    let sb = NPY.encode(scalar)
    #expect(try NPY.decode(sb, range: 0..<sb.count) == scalar)
  }

  @Test(arguments: Fixtures.section("errors").keys.sorted())
  func clearErrors(_ name: String) throws {
    let fragment = try #require(Fixtures.section("errors")[name] as? String)
    do {
      _ = try CheckpointReader.read(path: Fixtures.path(name))
      Issue.record("\(name) should not be readable")
    } catch {
      let text = error.description
      #expect(text.contains(fragment), "\(text)")
      #expect(text.hasPrefix(Fixtures.path(name) + ": "))
      #expect(!text.contains("\n"))
    }
  }
}
