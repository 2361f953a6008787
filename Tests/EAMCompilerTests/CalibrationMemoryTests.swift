import EAMFormat
import EAMRuntime
import Foundation
import Testing

@testable import EAMCompiler

/// Calibration within a memory budget: groups of blocks in successive passes over the images give
/// the same `.eamstats` bytes (and the same compiled artifact) as one pass; a budget too small for
/// one block is refused with one line before anything is written; `--memory-budget` is parsed and
/// checked.
@Suite struct CalibrationMemoryTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let checkpoint = root.appendingPathComponent("Tests/Fixtures/models/dinov2_small.safetensors").path
  static let imageFolder = root.appendingPathComponent("examples/images/calib").path
  static let images = try! ImageFolder.list(imageFolder)

  static func temporary(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eamc-calibration-memory-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
  }

  static func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

  /// The small DINOv2 fixture (2 blocks) deepened to `depth` blocks, block k a copy of block
  /// k mod 2, so that a budget can split it into more than two groups.
  static let deep: String = {
    let path = temporary("dinov2_deep.safetensors")
    let source = bytes(checkpoint)
    let n = source.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try! JSONSerialization.jsonObject(with: Data(source[8..<(8 + n)])) as! [String: Any]
    let data = source[(8 + n)...]
    var tensors: [(String, [String: Any], ArraySlice<UInt8>)] = []
    for (name, value) in header.sorted(by: { $0.key < $1.key }) where name != "__metadata__" {
      let entry = value as! [String: Any]
      let offsets = entry["data_offsets"] as! [Int]
      let payload = data[(data.startIndex + offsets[0])..<(data.startIndex + offsets[1])]
      if name.hasPrefix("blocks.") {
        let parts = name.split(separator: ".", maxSplits: 2)
        let k = Int(parts[1])!
        for j in stride(from: k, to: 6, by: 2) { tensors.append(("blocks.\(j).\(parts[2])", entry, payload)) }
      } else {
        tensors.append((name, entry, payload))
      }
    }
    var out: [String: Any] = [:], blob: [UInt8] = []
    for (name, entry, payload) in tensors {
      out[name] = ["dtype": entry["dtype"]!, "shape": entry["shape"]!, "data_offsets": [blob.count, blob.count + payload.count]]
      blob += payload
    }
    let json = [UInt8](try! JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]))
    let length = (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) }
    FileManager.default.createFile(atPath: path, contents: Data(length + json + blob))
    return path
  }()

  static func options(budget: Int? = nil, shard: (Int, Int)? = nil) -> CompileOptions {
    var o = CompileOptions()
    o.overrides.heads = 2
    o.threads = 2
    o.calibration.progress = false
    o.calibration.memoryBudget = budget
    o.calibration.shard = shard
    return o
  }

  static func memory(_ checkpoint: String) throws -> CalibrationMemory {
    let (_, description) = try Compiler.load(checkpoint, overrides: options().overrides)
    let model = try Evaluation.model(of: description, name: checkpoint, threads: 2, source: checkpoint)
    return try #require(CalibrationMemory(description, floatModel: model))
  }

  /// The budget whose passes hold `layers` attention layers each (at the default batch).
  static func budget(_ memory: CalibrationMemory, layers: Int, resident: Bool) throws -> Int {
    try #require(memory.need(group: 0..<layers, batch: CalibrationOptions().batch, resident: resident))
  }

  @Test func twoAndThreePassesWriteTheSameBytesAsOne() throws {
    let memory = try Self.memory(Self.deep)
    #expect(memory.layers.count == 6)
    let whole = Self.temporary("deep-whole.eamstats")
    let one = try Calibration.calibrate(Self.deep, images: Self.images, options: Self.options(), to: whole)
    #expect(one.plan.groups == [0..<6] && one.images == Self.images.count)
    for (layers, passes) in [(3, 2), (2, 3)] {
      let path = Self.temporary("deep-\(passes).eamstats")
      let budget = try Self.budget(memory, layers: layers, resident: false)
      let s = try Calibration.calibrate(Self.deep, images: Self.images, options: Self.options(budget: budget), to: path)
      #expect(s.plan.groups.count == passes && s.plan.batch == CalibrationOptions().batch && s.plan.peak <= budget)
      #expect(s.plan.groups.allSatisfy { $0.count == layers })
      #expect(s.setHash == one.setHash)
      let same = Self.bytes(path) == Self.bytes(whole)
      #expect(same, "\(passes) passes")
    }
    // The file as the library writes it in memory, too.
    let decoded = try AttentionStatistics(contentsOf: whole)
    let encoded = decoded.encoded() == Self.bytes(whole)
    #expect(encoded)
  }

  @Test func shardsCalibratedInPassesAreTheShardsOfOnePassAndMerge() throws {
    let memory = try Self.memory(Self.deep)
    let budget = try Self.budget(memory, layers: 2, resident: false)
    var merged: AttentionStatistics?
    for i in 1...2 {
      let plain = Self.temporary("deep-shard\(i).eamstats"), passes = Self.temporary("deep-shard\(i)-passes.eamstats")
      _ = try Calibration.calibrate(Self.deep, images: Self.images, options: Self.options(shard: (i, 2)), to: plain)
      let s = try Calibration.calibrate(Self.deep, images: Self.images, options: Self.options(budget: budget, shard: (i, 2)),
                                        to: passes)
      #expect(s.plan.groups.count == 3)
      let same = Self.bytes(plain) == Self.bytes(passes)
      #expect(same, "shard \(i)")
      let part = try AttentionStatistics(contentsOf: passes)
      if merged == nil { merged = part } else { try merged!.merge(part) }
    }
    let whole = Self.temporary("deep-all.eamstats")
    _ = try Calibration.calibrate(Self.deep, images: Self.images, options: Self.options(), to: whole)
    #expect(merged == (try AttentionStatistics(contentsOf: whole)))
  }

  /// The statistics carry every linear layer's input range (version 2 of the file), which a
  /// compile with `--stats` and `--act-quant static` stores in the artifact as they are.
  @Test func statisticsCarryTheLinearInputRangesThatStaticActivationsUse() throws {
    let path = Self.temporary("ranges.eamstats")
    _ = try Calibration.calibrate(Self.checkpoint, images: Self.images, options: Self.options(), to: path)
    let file = Self.bytes(path)
    #expect(file.count > 12 && file[8] == 2 && file[9...11].allSatisfy { $0 == 0 }, "version 2")
    let stats = try AttentionStatistics(contentsOf: path)
    let (_, description) = try Compiler.load(Self.checkpoint, overrides: Self.options().overrides)
    #expect(stats.linearInputRanges.count == 1 + 4 * description.blocks.count, "\(stats.linearInputRanges.keys.sorted())")
    #expect(stats.linearInputRanges.values.allSatisfy { $0.lowerBound < 0 && $0.upperBound > 0 })
    var o = Self.options()
    o.precision = .int8
    o.quantization.keepFloat = []
    o.quantization.activation = .static
    o.statisticsFiles = [path]
    let artifact = Self.temporary("ranges.int8.eam")
    _ = try Compiler.compile(Self.checkpoint, to: artifact, options: o)
    let weights = try Artifact(path: artifact).manifest.weights.filter { $0.activation == .static }
    #expect(weights.count == stats.linearInputRanges.count)
    for w in weights {
      let r = try #require(stats.linearInputRanges[String(w.name.dropLast(".weight".count))], "\(w.name)")
      #expect(w.activationMin == r.lowerBound && w.activationMax == r.upperBound, "\(w.name)")
    }
    // A damaged range is refused in one line naming the file.
    var bad = file
    let trailer = bad.count - 4 - 4  // the last range's maximum
    bad.replaceSubrange(trailer..<(trailer + 4), with: withUnsafeBytes(of: Float.nan.bitPattern) { Array($0) })
    let crc = CRC32C.checksum(Array(bad[0..<(bad.count - 4)]))
    bad.replaceSubrange((bad.count - 4)..<bad.count, with: withUnsafeBytes(of: crc) { Array($0) })
    #expect { _ = try AttentionStatistics(decoding: bad, path: "bad.eamstats") } throws: { error in
      "\(error)".contains("bad.eamstats") && "\(error)".contains("input range")
    }
  }

  /// A compile keeps the statistics of every block; groups of blocks are folded into them in
  /// place when the maps of every block do not fit beside them. Same statistics, same artifact.
  @Test func aCompileInPassesGivesTheSameStatisticsAndArtifact() throws {
    let memory = try Self.memory(Self.deep)
    let budget = try Self.budget(memory, layers: 2, resident: true)
    let (_, description) = try Compiler.load(Self.deep, overrides: Self.options().overrides)
    let model = try Evaluation.model(of: description, name: Self.deep, threads: 2, source: Self.deep)
    let plans = Plans()
    var o = Self.options(budget: budget).calibration
    o.onPlan = { plans.add($0) }
    let inPasses = try Calibration.run(description, floatModel: model, images: Self.images, sourceSHA256: "x", options: o)
    let inOne = try Calibration.run(description, floatModel: model, images: Self.images, sourceSHA256: "x",
                                    options: Self.options().calibration)
    #expect(plans.all.map(\.groups.count) == [3])
    #expect(inPasses == inOne)

    var e = EAMOptions()
    e.sparsity = 0.3
    var compile = Self.options(budget: budget)
    compile.eam = e
    compile.calibrationImages = Self.images
    let a = Self.temporary("deep-passes.eam"), b = Self.temporary("deep-one.eam")
    _ = try Compiler.compile(Self.deep, to: a, options: compile)
    compile.calibration.memoryBudget = nil
    _ = try Compiler.compile(Self.deep, to: b, options: compile)
    let same = Self.bytes(a) == Self.bytes(b)
    #expect(same)
  }

  @Test func aBudgetTooSmallForOneBlockIsRefusedWithOneLineAndNoFile() throws {
    let eamc = try AtomicOutput.eamc()
    let dir = Self.temporary("refused")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let stats = dir + "/small.eamstats", artifact = dir + "/small.eam"
    let calibrate = try ToolRun(eamc, ["calibrate", Self.checkpoint, "--heads", "2", "--calib", Self.imageFolder,
                                       "-o", stats, "--memory-budget", "1M"])
    #expect(calibrate.failedWithOneLine, Comment(rawValue: calibrate.stderr))
    #expect(calibrate.stderr.hasPrefix("eamc: error: memory budget 1.0 MiB is too small: calibrating block 0 alone needs "))
    let compile = try ToolRun(eamc, ["compile", Self.checkpoint, "--heads", "2", "--calib", Self.imageFolder,
                                     "--sparsity", "0.2", "-o", artifact, "--memory-budget", "1M"])
    #expect(compile.failedWithOneLine, Comment(rawValue: compile.stderr))
    #expect(compile.stderr.hasPrefix("eamc: error: memory budget 1.0 MiB is too small: compiling keeps the attention statistics"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)  // no output, no temporary
  }

  @Test func theFlagTakesPositiveSizesInPowersOf1024() throws {
    #expect(MemoryBudget.parse("4G") == 4 << 30)
    #expect(MemoryBudget.parse("512M") == 512 << 20)
    #expect(MemoryBudget.parse("1.5G") == (1 << 30) + (1 << 29))
    #expect(MemoryBudget.parse("1.5g") == MemoryBudget.parse("1.5GiB"))
    #expect(MemoryBudget.parse("2.25GB") == (2 << 30) + (1 << 28))
    #expect(MemoryBudget.parse("100") == 100 && MemoryBudget.parse("100B") == 100 && MemoryBudget.parse("7K") == 7 << 10)
    #expect(MemoryBudget.parse("0.001K") == 1)  // rounded down
    #expect(MemoryBudget.parse("8388607T") == 8_388_607 << 40)
    for bad in ["0", "0G", "0.0K", "0.0001K", "junk", "", "G", "1.5", "-1G", "1e9", "4 G", "4GG", "1..5G", ".5G", "5.G",
                "1iB", "8388608T", "99999999999999999999"] {
      #expect(MemoryBudget.parse(bad) == nil, "\(bad)")
    }
    #expect(throws: CompileError.self) { try MemoryBudget.flag("0") }
    let (bytes, source) = MemoryBudget.defaultBudget()
    #expect(bytes > 0 && bytes <= MemoryBudget.limit().bytes && source.hasPrefix("3/4 of "))

    let eamc = try AtomicOutput.eamc()
    let out = Self.temporary("flag.eamstats")
    try? FileManager.default.removeItem(atPath: out)  // a folder named by pid may be left from an earlier run
    let common = ["calibrate", Self.checkpoint, "--heads", "2", "--calib", Self.imageFolder, "-o", out, "--memory-budget"]
    let zero = try ToolRun(eamc, common + ["0"])
    #expect(zero.failedWithOneLine && zero.stderr == "eamc: error: --memory-budget must be more than 0, not '0'\n")
    let junk = try ToolRun(eamc, common + ["junk"])
    #expect(junk.failedWithOneLine && junk.stderr.hasPrefix("eamc: error: --memory-budget takes a size such as 4G"))
    #expect(!FileManager.default.fileExists(atPath: out))
    let ok = try ToolRun(eamc, common + ["1.5G"])
    #expect(ok.exited && ok.status == 0, Comment(rawValue: ok.stderr))
    #expect(FileManager.default.fileExists(atPath: out))
    let compileJunk = try ToolRun(eamc, ["compile", Self.checkpoint, "--heads", "2", "-o", Self.temporary("flag.eam"),
                                         "--memory-budget", "1.5"])
    #expect(compileJunk.failedWithOneLine && compileJunk.stderr.contains("not '1.5'"))
  }

  /// The activations the plan counts are the runtime's arena: exactly for ViT, at least for Swin.
  @Test(arguments: ["dinov2_small", "swin_tiny"])
  func theActivationsCountedAreTheRuntimes(name: String) throws {
    let path = Self.root.appendingPathComponent("Tests/Fixtures/models/\(name).safetensors").path
    let (_, description) = try Compiler.load(path, overrides: ModelOverrides())
    let model = try Evaluation.model(of: description, name: path, threads: 2, source: path)
    let arena = try #require(CalibrationMemory.arena(description, outputWidth: model.outputWidth, threads: model.pool.threadCount))
    for batch in [1, 3] {
      model.reserve(batch: batch)
      let counted = arena.perImage * batch + arena.fixed
      if description.architecture.family == .swin {
        #expect(counted >= model.arenaBytes, "batch \(batch): \(counted) < \(model.arenaBytes)")
      } else {
        #expect(counted == model.arenaBytes, "batch \(batch)")
      }
    }
  }

  @Test func theHeaderTakesTheBytesReservedForIt() throws {
    var s = try AttentionStatistics(layers: 2, heads: [2, 3], tokens: [5, 7], model: "test-model")
    for i in 0..<3 { try s.finishImage(sha256: imageHash(i)) }
    let header = s.fileHeader.bytes
    #expect(StatisticsFileHeader.byteCount(modelBytes: 10, layers: 2, slices: 5, images: 3) == header.count)
    #expect(Array(s.encoded().prefix(header.count)) == header)
  }
}

/// Plans seen by `CalibrationOptions.onPlan`.
final class Plans: @unchecked Sendable {
  private let lock = NSLock()
  private var plans: [CalibrationPlan] = []
  func add(_ p: CalibrationPlan) { lock.withLock { plans.append(p) } }
  var all: [CalibrationPlan] { lock.withLock { plans } }
}
