import EAMIngest
import FuzzSupport

/// The restricted pickle machine on one pickle (any protocol), then the choice of weights and
/// the view checks: `PickleMachine.evaluate`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = try? PickleMachine.evaluate(FuzzHarness.bytes(data, size))
  return 0
}

@main enum Main {
  static func main() { FuzzHarness.main(fuzzOneInput) }
}
