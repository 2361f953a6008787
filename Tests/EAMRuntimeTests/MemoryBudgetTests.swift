import Foundation
import Testing
import EAMFormat
import EAMKernels
import EAMRuntime

/// The runtime's memory budget: what a manifest makes the runtime allocate is computed before
/// anything is allocated (`Model.plannedMemory`), agrees with what it then allocates, and is
/// refused in one line when over `LoadOptions.memoryBudget`.
@Suite struct MemoryBudget {
  /// A ViT of `side`² patch tokens (patch 1, no class token), width 8, one block, every weight
  /// zero and zstd-compressed: a few KB that declare a T×T attention map of any size.
  static func manyTokenArtifact(side: Int) throws -> [UInt8] {
    let d = 8, hidden = 8, t = side * side
    var m = Manifest()
    m.producer = .init(name: "MemoryBudgetTests", version: "1")
    var a = Manifest.Architecture()
    a.family = .vit
    a.imageSize = side
    a.patchSize = 1
    a.embedDim = d
    a.depth = 1
    a.mlpHidden = hidden
    a.classTokens = 0
    a.pooling = .meanPatch
    m.architecture = a
    var b = Manifest.Block()
    b.heads = 1
    b.dim = d
    b.mlpHidden = hidden
    m.blocks = [b]
    m.preprocessing.resizeShorterSide = side
    m.preprocessing.cropSize = side
    m.preprocessing.mean = [0.5, 0.5, 0.5]
    m.preprocessing.std = [0.5, 0.5, 0.5]
    m.preprocessing.interpolation = .bicubic
    var sections: [SectionPayload] = []
    func add(_ name: String, _ shape: [Int], packed: Bool = false) {
      let layout: Layout = packed ? .panelPacked : .rowMajor
      let count = layout.storedElements(shape: shape)!
      sections.append(SectionPayload(name: name, dtype: .f32, shape: shape, layout: layout, compression: .zstd,
                                     bytes: [UInt8](repeating: 0, count: 4 * count)))
      m.weights.append(.init(name: name, type: .f32))
    }
    func linear(_ s: LinearSections, _ n: Int, _ k: Int) { add(s.weight, [n, k], packed: true); add(s.bias, [n]) }
    func norm(_ s: NormSections) { add(s.weight, [d]); add(s.bias, [d]) }
    linear(ViTSections.patchEmbed, d, 3)
    add(ViTSections.positionEmbedding, [1, t, d])
    let names = ViTSections.Block(0)
    norm(names.norm1)
    linear(names.qkv, 3 * d, d)
    linear(names.proj, d, d)
    norm(names.norm2)
    linear(names.fc1, hidden, d)
    linear(names.fc2, d, hidden)
    norm(ViTSections.norm)
    return try ArtifactWriter.encode(manifest: m, sections: sections)
  }

  static func refusal(_ body: () throws -> Void) -> String? {
    do { try body() } catch let e as RuntimeError { return e.description } catch { return "other error: \(error)" }
    return nil
  }

  /// Issue 16's case: a tiny artifact that declares 65,536 tokens (a 16 GiB attention map per
  /// thread) is refused at load, in one line, with what it needs and the budget.
  @Test func tinyArtifactDeclaring65536TokensIsRefusedAtLoad() throws {
    let bytes = try Self.manyTokenArtifact(side: 256)
    #expect(bytes.count < 16 << 10, "\(bytes.count) bytes")
    let artifact = try Artifact(bytes: bytes, name: "tokens.eam")
    #expect(artifact.manifest.architecture.prefixTokens + artifact.manifest.architecture.patchTokens == 65536)
    let line = Self.refusal { _ = try Model(artifact: artifact) }
    let text = try #require(line)
    #expect(text.hasPrefix("tokens.eam: the model needs ") && text.contains("over the memory budget") && !text.contains("\n"), "\(text)")
    // 16 GiB of map per thread alone.
    #expect(text.contains("attention scratch"))
    print("MemoryBudget: \(bytes.count)-byte artifact, 65536 tokens: \(text)")
  }

  /// The same kind of artifact at 1,024 tokens loads and runs; what it allocates is what was planned.
  @Test func smallVersionRunsWithinItsPlan() throws {
    let artifact = try Artifact(bytes: try Self.manyTokenArtifact(side: 32), name: "tokens.eam")
    var options = LoadOptions()
    options.threads = 2
    let model = try Model(artifact: artifact, options: options)
    let out = try model.run([Float](repeating: 0.25, count: 3 * 32 * 32), batch: 1)
    #expect(out.count == 8 && out.allSatisfy { $0.isFinite })
    let p = model.plannedMemory
    #expect(model.arenaBytes == p.arena + p.scratch)
    #expect(model.copiedWeightBytes == p.weightsCopied)  // every section compressed: all copied
    #expect(p.transient == 4 * 1024 * 8)                  // the position embedding, decompressed
  }

  /// For every committed artifact, threads 1 and 3, batch 1 and 2, f16 used in place or widened:
  /// the arena the runs allocate and the weights the load copies are exactly the planned ones.
  @Test(arguments: RuntimeFixture.all)
  func plannedMemoryMatchesWhatIsAllocated(fixture: RuntimeFixture) throws {
    let x = try fixture.inputBatch()
    for threads in [1, 3] {
      for widen in [false, true] {
        var options = LoadOptions()
        options.threads = threads
        options.widenF16 = widen
        let model = try Model(path: fixture.path, options: options)
        #expect(model.copiedWeightBytes == model.plannedMemory.weightsCopied, "\(fixture) threads \(threads) widen \(widen)")
        #expect(model.plannedMemory.threads == threads && model.plannedMemory.batch == 1)
        _ = try model.run(x.values, batch: 2)
        let p = try model.plannedMemory(batch: 2)
        #expect(model.arenaBytes == p.arena + p.scratch, "\(fixture) threads \(threads): arena \(model.arenaBytes), planned \(p.arena) + \(p.scratch)")
        #expect(p.total <= model.memoryBudget)
      }
    }
  }

  @Test func frozenMapsArePlannedForEamArtifacts() throws {
    let eam = try Model(path: try RuntimeFixture.named("dinov2_small.eam30.eam").path)
    let plain = try Model(path: try RuntimeFixture.named("dinov2_small.eam").path)
    #expect(eam.plannedMemory.frozenMaps > 0 && plain.plannedMemory.frozenMaps == 0)
    // Each frozen head holds at least its T×T dense values.
    let t = 10, heads = eam.manifest.blocks.reduce(0) { $0 + $1.frozen.count }
    #expect(eam.plannedMemory.frozenMaps >= heads * 4 * t * t)
  }

  @Test func budgetIsTheLimitAtLoadAndForLargerBatches() throws {
    let fixture = try RuntimeFixture.named("vit_tiny.eam")
    var options = LoadOptions()
    options.threads = 1
    let need = try Model(path: fixture.path, options: options).plannedMemory.total
    options.memoryBudget = need
    let model = try Model(path: fixture.path, options: options)  // exactly enough
    options.memoryBudget = need - 1
    let line = try #require(Self.refusal { _ = try Model(path: fixture.path, options: options) })
    #expect(line.hasPrefix(fixture.path + ": the model needs ") && line.contains("1 image(s) on 1 thread(s)"), "\(line)")
    // The budget that loads one image does not run two: refused before the arena grows.
    let x = try fixture.inputBatch()
    let batchLine = try #require(Self.refusal { _ = try model.run(x.values, batch: 2) })
    #expect(batchLine.contains("2 image(s)") && batchLine.contains("over the memory budget"), "\(batchLine)")
    #expect(model.arenaBytes == 0)
    _ = try model.run(Array(x.values[0..<(x.count / 2)]), batch: 1)
    #expect(model.arenaBytes == model.plannedMemory.arena + model.plannedMemory.scratch)
  }

  /// A zstd frame that honestly declares its (large) content: its decompressed size counts in the
  /// budget before it is decompressed. The compressed artifact computes exactly what the plain one does.
  @Test func compressedSectionsCountBeforeTheyAreDecompressed() throws {
    let b = try Baseline("vit_tiny.eam")
    let sections = b.sections.map { s -> SectionPayload in
      var c = s
      c.compression = .zstd
      return c
    }
    let bytes = try Rebuild.bytes(b.manifest, sections: sections)
    #expect(b.outcome(bytes, budget: 1 << 30) == .output(b.reference))
    let model = try Model(artifact: try Artifact(bytes: bytes, name: "z.eam"))
    let p = model.plannedMemory
    #expect(p.weightsCopied == model.copiedWeightBytes && p.weightsCopied > 0 && p.transient > 0)
    let outcome = b.outcome(bytes, budget: p.total - 1)
    guard case .refused(let line) = outcome else { Issue.record("\(outcome)"); return }
    #expect(line.contains("over the memory budget") && line.contains("weights copied"), "\(line)")
  }

  @Test func memorySizes() {
    #expect(LoadOptions.parseMemorySize("2G") == 2 << 30)
    #expect(LoadOptions.parseMemorySize("512M") == 512 << 20)
    #expect(LoadOptions.parseMemorySize("64k") == 64 << 10)
    #expect(LoadOptions.parseMemorySize("2GiB") == 2 << 30)
    #expect(LoadOptions.parseMemorySize("2gb") == 2 << 30)
    #expect(LoadOptions.parseMemorySize("1T") == 1 << 40)
    #expect(LoadOptions.parseMemorySize("1000000") == 1_000_000)
    #expect(LoadOptions.parseMemorySize("100B") == 100)
    for bad in ["", "0", "0G", "G", "iB", "1.5G", "-1", "2X", "2 G", "99999999999999999999", "8388608T", "1iB"] {
      #expect(LoadOptions.parseMemorySize(bad) == nil, "\(bad)")
    }
    #expect(PlannedMemory.text(3 << 29) == "1.50 GiB")
    #expect(PlannedMemory.text(1536 << 10) == "1.5 MiB")
    #expect(PlannedMemory.text(100) == "100 bytes")
  }

  @Test func defaultBudgetIsHalfThePhysicalMemoryAtMost8GiB() throws {
    let physical = try #require(PhysicalMemory.bytes)
    #expect(LoadOptions.defaultMemoryBudget == min(physical / 2, 8 << 30))
    #expect(LoadOptions().memoryBudget == LoadOptions.defaultMemoryBudget)
  }
}
