import Foundation
import Testing
import EAMIngest

/// eam-run's command line and its .npy reader: float64 and Fortran order read as the same
/// numbers as float32 in C order (the outputs are identical), `--help` is not an error.
@Suite struct EAMRunTests {
  @Test func helpIsUsageOnStdout() throws {
    let run = try CLIRun("eam-run", ["--help"])
    #expect(run.status == 0 && run.stdout.hasPrefix("usage: eam-run MODEL.eam") && run.stderr.isEmpty)
    #expect(run.stdout.contains("Exit status"))
    let bad = try CLIRun("eam-run", ["a.eam"])
    #expect(bad.status == 2 && bad.stderr.contains("eam-run --help"))
    #expect(try CLIRun("eam-run", ["a", "b", "c", "--threads", "zero"]).status == 2)
  }

  /// A .npy file of `values` (row-major `shape`) as NumPy writes it in the given type and order.
  static func npy(_ values: [Float], shape: [Int], float64: Bool, fortran: Bool, bigEndian: Bool = false) -> Data {
    let descr = (bigEndian ? ">" : "<") + (float64 ? "f8" : "f4")
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': (\(shape.map(String.init).joined(separator: ", ")),), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
    data += Data(header.utf8)
    // File order: C order is row-major; Fortran order has the first index varying fastest.
    var order = Array(0..<values.count)
    if fortran {
      var strides = [Int](repeating: 1, count: shape.count)
      for k in stride(from: shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * shape[k + 1] }
      order = (0..<values.count).map { f in
        var rest = f, r = 0
        for k in 0..<shape.count { r += (rest % shape[k]) * strides[k]; rest /= shape[k] }
        return r
      }
    }
    for i in order {
      if float64 {
        let bits = Double(values[i]).bitPattern
        withUnsafeBytes(of: bigEndian ? bits.bigEndian : bits.littleEndian) { data += $0 }
      } else {
        let bits = values[i].bitPattern
        withUnsafeBytes(of: bigEndian ? bits.bigEndian : bits.littleEndian) { data += $0 }
      }
    }
    return data
  }

  @Test func float64AndFortranOrderGiveTheSameOutputs() throws {
    let dir = CLIRun.folder("eam-run-npy")
    let fixtures = CLIRun.path("Tests/Fixtures/models")
    let eam = dir.appendingPathComponent("m.eam").path
    try #require(try CLIRun.eamc("compile", fixtures + "/vit_tiny.safetensors", "--heads", "2", "-o", eam, "-q").status == 0)
    let input = try NPY.read(path: fixtures + "/vit_tiny.input.npy")
    var outputs: [Data] = []
    for (float64, fortran, big) in [(false, false, false), (true, false, false), (false, true, false), (true, true, false), (true, true, true)] {
      let x = dir.appendingPathComponent("x-\(float64)-\(fortran)-\(big).npy"), y = dir.appendingPathComponent("y-\(float64)-\(fortran)-\(big).npy")
      try Self.npy(input.values, shape: input.shape, float64: float64, fortran: fortran, bigEndian: big).write(to: x)
      let run = try CLIRun("eam-run", [eam, x.path, y.path])
      try #require(run.status == 0, "f64 \(float64) fortran \(fortran): \(run.stderr)")
      outputs.append(try Data(contentsOf: y))
    }
    #expect(outputs.allSatisfy { $0 == outputs[0] })
    // And the same as eamc run on the fixture itself.
    let z = dir.appendingPathComponent("z.npy").path
    try #require(try CLIRun.eamc("run", eam, "--input", fixtures + "/vit_tiny.input.npy", "--output", z, "-q").status == 0)
    #expect(try NPY.read(path: z).values == NPY.read(path: dir.appendingPathComponent("y-false-false-false.npy").path).values)
  }
}
