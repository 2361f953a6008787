#if FUZZING
import CFuzzer
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every fuzz harness shares.
///
/// A harness is one C-callable function over bytes (also exported as `LLVMFuzzerTestOneInput`)
/// and a `main` that hands it to `FuzzHarness.main`. In the fuzzing build (`-DFUZZING`,
/// `-sanitize=fuzzer,address`; `make fuzz`) that starts libFuzzer's driver with the command line;
/// in a normal build it replays every file named on the command line (or found in a folder named
/// there) through the same function. So `fuzz-pickle Fuzz/corpus/pickle` replays a corpus and
/// `fuzz-pickle crash-…` reproduces a finding without the sanitizer build.
///
/// (SwiftPM links an executable's `main` to the target's own entry point, so libFuzzer's `main`
/// cannot be used; `LLVMFuzzerRunDriver` is libFuzzer's entry for that case.)
public enum FuzzHarness {
  public typealias Function = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

  /// Fuzzes `harness` (fuzzing build) or replays the files named on the command line.
  public static func main(_ harness: Function) -> Never {
    #if FUZZING
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, harness))
    #else
    replay(harness)
    #endif
  }

  /// libFuzzer's buffer as an array (the parsers' in-memory entry points take arrays).
  public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
  }

  /// The replay `main`: runs `harness` on every file given as an argument or found (recursively)
  /// in a folder given as an argument, then reports how many it ran. Arguments that start with
  /// `-` are libFuzzer options and are ignored, except `-v`, which prints each file before it
  /// runs (to see which input a crash came from).
  public static func replay(_ harness: Function) -> Never {
    let arguments = Array(CommandLine.arguments.dropFirst())
    let verbose = arguments.contains("-v")
    let roots = arguments.filter { !$0.hasPrefix("-") }
    let tool = CommandLine.arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? "fuzz"
    guard !roots.isEmpty else {
      printError("usage: \(tool) [-v] FILE_OR_FOLDER... (replays inputs through the harness)\n")
      exit(2)
    }
    var files: [String] = []
    for root in roots {
      guard collect(root, into: &files) else {
        printError("\(tool): \(root): cannot read: \(String(cString: strerror(errno)))\n")
        exit(1)
      }
    }
    for file in files {
      if verbose { printError("\(file)\n") }
      guard let bytes = readFile(file) else {
        printError("\(tool): \(file): cannot read: \(String(cString: strerror(errno)))\n")
        exit(1)
      }
      _ = bytes.withUnsafeBufferPointer { harness($0.baseAddress, $0.count) }
    }
    print("\(tool): replayed \(files.count) inputs")
    exit(0)
  }

  /// One line (with its newline) on standard error.
  private static func printError(_ line: String) {
    _ = line.withCString { write(2, $0, strlen($0)) }
  }

  /// Regular files at `path` (itself, or everything below a folder), sorted per folder.
  private static func collect(_ path: String, into files: inout [String]) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    guard (st.st_mode & S_IFMT) == S_IFDIR else {
      files.append(path)
      return true
    }
    guard let dir = opendir(path) else { return false }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    closedir(dir)
    for name in names.sorted() where !name.hasPrefix(".") {
      guard collect(path + "/" + name, into: &files) else { return false }
    }
    return true
  }

  private static func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
      out.append(contentsOf: chunk[0..<n])
      if n < chunk.count { return ferror(file) == 0 ? out : nil }
    }
  }
}
