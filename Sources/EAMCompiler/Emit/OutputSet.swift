#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files one run writes, handled as a unit.
///
/// `check`, before any work: an output must not be an input or another output (compared as
/// files: device and inode after following links, and for outputs that do not exist yet, the
/// folder's device and inode plus the name), must not be a folder or a device, and its folder
/// must exist and be writable. `commit`, at the end: every output goes to a temporary in its own
/// folder and is flushed; then, with SIGINT and SIGTERM held back, each previous file gets a
/// hard link beside it and the temporaries are renamed into place. If any step fails, the
/// outputs renamed so far get their previous files back (or are removed if there were none), so
/// a run's outputs appear all together or not at all and a previous artifact survives byte for
/// byte.
public enum OutputSet {
  public typealias WriteError = AtomicFile.WriteError

  /// A file a run reads or writes, and what it is, for messages ("checkpoint", "report").
  public struct File: Sendable {
    public var path: String
    public var what: String
    public init(_ what: String, _ path: String) {
      self.what = what
      self.path = path
    }
  }

  /// Refuses, with one line naming both files or the folder, outputs that would overwrite an
  /// input or each other, and outputs that cannot be written.
  public static func check(outputs: [File], inputs: [File]) throws(WriteError) {
    let inputIDs = inputs.map { (file: $0, id: FileID(path: $0.path)) }
    var seen: [(file: File, id: FileID?, slot: Slot?)] = []
    for output in outputs {
      let path = output.path
      let (dir, base) = split(path)
      guard !base.isEmpty, base != ".", base != ".." else { throw WriteError(description: "\(path): names a folder, not a file") }
      var st = stat()
      guard stat(dir, &st) == 0 else {
        throw WriteError(description: "\(path): output folder '\(dir)' \(errno == ENOENT ? "does not exist" : "cannot be read: \(errorText())")")
      }
      guard (st.st_mode & S_IFMT) == S_IFDIR else { throw WriteError(description: "\(path): '\(dir)' is not a folder") }
      guard access(dir, W_OK | X_OK) == 0 else {
        throw WriteError(description: "\(path): output folder '\(dir)' is not writable: \(errorText())")
      }
      if stat(path, &st) == 0 {
        guard (st.st_mode & S_IFMT) != S_IFDIR else { throw WriteError(description: "\(path): is a folder") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
          throw WriteError(description: "\(path): is not a regular file (a device, pipe or socket); refusing to replace it")
        }
      }
      let id = FileID(path: path)
      if let id, let clash = inputIDs.first(where: { $0.id == id }) {
        throw WriteError(description: "\(path): is the same file as the \(clash.file.what) \(clash.file.path); refusing to write the \(output.what) over an input")
      }
      let slot = Slot(dir: dir, base: base)
      if let other = seen.first(where: { (id != nil && $0.id == id) || (slot != nil && $0.slot == slot) }) {
        throw WriteError(description: "\(path): the \(output.what) and the \(other.file.what) \(other.file.path) are the same file; give them different paths")
      }
      seen.append((output, id, slot))
    }
  }

  /// Writes every file, or none: see the type's comment. On failure nothing of this run is left
  /// and every previous file is as it was.
  public static func commit(_ files: [(path: String, bytes: [UInt8])]) throws(WriteError) {
    try commit(files, renaming: { rename($0, $1) })
  }

  /// `commit` with the rename step given (tests make it fail part-way).
  static func commit(_ files: [(path: String, bytes: [UInt8])], renaming rename: (String, String) -> Int32)
    throws(WriteError)
  {
    for f in files {
      var st = stat()
      if stat(f.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
        throw WriteError(description: "\(f.path): is a folder")
      }
    }
    // 1. Temporaries, flushed. An interrupt here removes them.
    var temps: [String] = []
    defer { SignalCleanup.untrack() }
    for f in files {
      do throws(WriteError) {
        temps.append(try writeTemporary(f.bytes, for: f.path, tracked: temps))
      } catch {
        for t in temps { unlink(t) }
        throw error
      }
    }
    // 2. The swap, not interrupted halfway: signals wait until every file is in place (or back).
    var mask = sigset_t(), previousMask = sigset_t()
    sigemptyset(&mask)
    sigaddset(&mask, SIGINT)
    sigaddset(&mask, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &mask, &previousMask)
    defer { pthread_sigmask(SIG_SETMASK, &previousMask, nil) }
    var backups: [Backup] = []
    var failure: (index: Int, message: String)?
    for (i, f) in files.enumerated() {
      var st = stat()
      guard lstat(f.path, &st) == 0 else {
        backups.append(.none)
        continue
      }
      // A hard link keeps the previous file reachable while the new one replaces its name;
      // where links are not supported the previous file is moved aside instead.
      if let name = uniqueName(for: f.path, kind: "prev"), link(f.path, name) == 0 {
        backups.append(.linked(name))
      } else if let name = uniqueName(for: f.path, kind: "prev"), rename(f.path, name) == 0 {
        backups.append(.moved(name))
      } else {
        failure = (i, "cannot keep the previous file: \(errorText())")
        break
      }
    }
    if failure == nil {
      for i in files.indices {
        guard rename(temps[i], files[i].path) != 0 else { continue }
        failure = (i, errorText())
        // Outputs renamed so far get their previous files back.
        for j in stride(from: i - 1, through: 0, by: -1) { restore(files[j].path, backups[j], renamed: true) }
        for j in i..<backups.count { restore(files[j].path, backups[j], renamed: false) }
        break
      }
    } else {
      for j in 0..<backups.count { restore(files[j].path, backups[j], renamed: false) }
    }
    if let failure {
      for t in temps { unlink(t) }
      SignalCleanup.untrack()
      let kept = backups.contains { $0 != .none } ? " (previous files kept)" : ""
      throw WriteError(description: "\(files[failure.index].path): write failed: \(failure.message); nothing was written\(kept)")
    }
    SignalCleanup.untrack()
    for b in backups {
      if case .linked(let name) = b { unlink(name) }
      if case .moved(let name) = b { unlink(name) }
    }
    var folders: [String] = []
    for f in files where !folders.contains(split(f.path).dir) { folders.append(split(f.path).dir) }
    for dir in folders { syncFolder(dir) }
  }

  /// How a previous file is kept during the swap.
  private enum Backup: Equatable {
    case none
    case linked(String)
    case moved(String)
  }

  /// Puts the previous file back at `path`; `renamed` says whether the new file already took
  /// the name.
  private static func restore(_ path: String, _ backup: Backup, renamed: Bool) {
    switch backup {
    case .none:
      if renamed { unlink(path) }
    case .linked(let name):
      if renamed { rename(name, path) } else { unlink(name) }
    case .moved(let name):
      rename(name, path)
    }
  }

  /// A new temporary beside `path` holding `bytes`, flushed to disk.
  private static func writeTemporary(_ bytes: [UInt8], for path: String, tracked: [String]) throws(WriteError) -> String {
    let dir = split(path).dir
    var fd: Int32 = -1
    var temp = ""
    for attempt in 0..<100 {
      temp = temporaryName(for: path, kind: "tmp", attempt: attempt)
      fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
      if fd >= 0 || errno != EEXIST { break }
    }
    guard fd >= 0 else { throw WriteError(description: "\(path): cannot create a file in '\(dir)': \(errorText())") }
    SignalCleanup.track(tracked + [temp])
    var failure: String?
    bytes.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = write(fd, raw.baseAddress! + done, raw.count - done)
        if n < 0 {
          if errno == EINTR { continue }
          failure = errorText()
          return
        }
        done += n
      }
    }
    if failure == nil, fsync(fd) != 0 { failure = errorText() }
    if close(fd) != 0, failure == nil { failure = errorText() }
    if let failure {
      unlink(temp)
      throw WriteError(description: "\(path): write failed: \(failure); nothing was written")
    }
    return temp
  }

  /// `.NAME.KIND.PID` beside `path` (with a counter after a collision).
  private static func temporaryName(for path: String, kind: String, attempt: Int) -> String {
    let (dir, base) = split(path)
    return (dir == "/" ? "" : dir) + "/.\(base).\(kind).\(getpid())" + (attempt == 0 ? "" : ".\(attempt)")
  }

  /// A name beside `path` that nothing has yet.
  private static func uniqueName(for path: String, kind: String) -> String? {
    var st = stat()
    for attempt in 0..<100 {
      let name = temporaryName(for: path, kind: kind, attempt: attempt)
      if lstat(name, &st) != 0 && errno == ENOENT { return name }
    }
    return nil
  }

  /// Makes the renames durable (best effort: not every file system can sync a folder).
  private static func syncFolder(_ dir: String) {
    let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
  }

  /// Folder and last name of a path (`model.eam` → `.`, `model.eam`).
  static func split(_ path: String) -> (dir: String, base: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let dir = String(path[..<slash])
    return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
  }

  static func errorText() -> String { String(cString: strerror(errno)) }

  /// A file as the kernel knows it (links followed).
  private struct FileID: Equatable {
    var device: UInt64
    var inode: UInt64

    init?(path: String) {
      var st = stat()
      guard stat(path, &st) == 0 else { return nil }
      device = UInt64(st.st_dev)
      inode = UInt64(st.st_ino)
    }
  }

  /// Where a file would be created: its folder (links followed) and name.
  private struct Slot: Equatable {
    var folder: FileID
    var base: String

    init?(dir: String, base: String) {
      guard let folder = FileID(path: dir) else { return nil }
      self.folder = folder
      self.base = base
    }
  }
}

/// Removes the temporaries being written if the process is interrupted (SIGINT, SIGTERM).
enum SignalCleanup {
  static let capacity = 16
  nonisolated(unsafe) static let paths = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
  nonisolated(unsafe) static var count = 0
  nonisolated(unsafe) static var installed = false

  /// Tracks exactly `list` (the first `capacity` of it) from now on.
  static func track(_ list: [String]) {
    if !installed {
      installed = true
      signal(SIGINT, handler)
      signal(SIGTERM, handler)
      signal(SIGXFSZ, SIG_IGN)  // a file-size limit then fails write() with EFBIG instead of killing us
    }
    untrack()
    for (i, p) in list.prefix(capacity).enumerated() { paths[i] = strdup(p) }
    count = min(list.count, capacity)
  }

  static func untrack() {
    let n = count
    count = 0
    for i in 0..<n {
      free(paths[i])
      paths[i] = nil
    }
  }

  private static let handler: @convention(c) (Int32) -> Void = { sig in
    for i in 0..<SignalCleanup.count {
      if let p = SignalCleanup.paths[i] { unlink(p) }
    }
    _exit(128 + sig)
  }
}
