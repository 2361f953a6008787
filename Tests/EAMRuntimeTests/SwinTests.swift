import Testing
import EAMRuntime

/// The committed small Swin (embed 32, depths 2-2, heads 2-4, window 4, image 64): its window
/// attention, seen through the observer.
@Suite struct SwinWindows {
  @Test func observerSeesEveryWindowInSequence() throws {
    let fixture = try RuntimeFixture.named("swin_tiny.eam")
    let model = try fixture.load(threads: 2)
    let x = try fixture.inputBatch()
    let log = MapLog()
    model.attentionObserver = log.observer
    _ = try model.run(x.values, batch: 2)
    let calls = log.calls
    // Stage 0: 16×16 grid, window 4 → 16 windows, 2 heads; stage 1: 8×8, 4 windows, 4 heads.
    #expect(calls.count == 2 * (2 * 16 * 2 + 2 * 4 * 4))
    #expect(calls.allSatisfy { $0.tokens == 16 && abs($0.rowSum(0) - 1) < 1e-5 })  // a softmax row sums to 1
    var perPair: [String: Int] = [:]
    for c in calls { perPair["\(c.block)/\(c.image)/\(c.head)", default: 0] += 1 }
    #expect(perPair["0/1/1"] == 16 && perPair["3/0/3"] == 4)
  }
}
