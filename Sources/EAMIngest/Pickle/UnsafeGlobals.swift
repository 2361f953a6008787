/// Pickle globals that make a file a live payload: `torch.load(weights_only=False)` or
/// `pickle.load` would run code, start programs, touch files or the network, or unpickle more
/// data when they call them. The restricted machine never calls anything, so they are harmless
/// here; a checkpoint that names one is refused all the same (wherever it is named: an unrelated
/// entry, a tensor's backward hooks, a state dict's `_metadata`), because the file is hostile to
/// every other tool that loads it. `ReadOptions.allowUnsafePickle` keeps them inert instead.
/// docs/INGEST.md explains each entry.
enum UnsafeGlobals {
  /// Why `g` is refused, or nil if it is not known to be dangerous.
  static func reason(_ g: PGlobal) -> String? {
    let moduleParts = g.module.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    let nameParts = g.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    // A dunder attribute in the name (`__globals__`, `__builtins__`, `__subclasses__`,
    // `__import__`, ...): the way from any function or class to every module.
    if let d = nameParts.first(where: { $0.count > 4 && $0.hasPrefix("__") && $0.hasSuffix("__") }) {
      return "its name goes through the attribute '\(d)', which reaches the interpreter's internals"
    }
    // Whole modules (and their submodules): the module or any dotted prefix of it.
    for i in moduleParts.indices {
      if let why = modules[moduleParts[...i].joined(separator: ".")] { return why }
    }
    // A dangerous module reached as an attribute of another (`torch.serialization.os.system`).
    for part in moduleParts.dropFirst() + nameParts where reachedModules.contains(part) {
      return "it reaches the module '\(part)' as an attribute of \(quoted(moduleParts[0]))"
    }
    if let listed = names[g.module], let why = listed[nameParts[0]] { return why }
    // torch._utils: only `_rebuild_*` (each rebuilds a tensor, parameter or view) is read; the
    // rest imports modules by name (`_import_dotted_name`, `_type`) or sets attributes.
    if g.module == "torch._utils", !nameParts[0].hasPrefix("_rebuild_") {
      return "it is not one of torch's tensor rebuild functions (torch._utils imports modules and sets attributes by name)"
    }
    // pathlib: constructing a path touches nothing; its methods (`Path.write_text`, named as a
    // dotted global) do.
    if g.module == "pathlib", !(pathClasses.contains(g.name)) {
      return filesystem
    }
    return nil
  }

  static let code = "it runs Python code"
  static let programs = "it starts programs or controls processes"
  static let filesystem = "it reads, writes or deletes files"
  static let network = "it opens network connections"
  static let imports = "it imports modules by name"
  static let nested = "it unpickles or loads more data, with its own globals"
  static let attributes = "it reaches attributes by name (from any object to any module)"
  static let interpreter = "it controls the interpreter (modules, exit, tracing)"

  /// Modules refused with every name in them (and their submodules).
  static let modules: [String: String] = {
    var m: [String: String] = [:]
    for name in ["os", "posix", "nt", "subprocess", "_posixsubprocess", "pty", "multiprocessing", "_multiprocessing",
                 "asyncio", "webbrowser", "ctypes", "_ctypes", "signal", "site", "distutils", "setuptools", "pip",
                 "ensurepip", "popen2", "torch.multiprocessing", "torch.utils.cpp_extension"] { m[name] = programs }
    for name in ["code", "codeop", "types", "marshal", "runpy", "pdb", "bdb", "profile", "cProfile", "timeit",
                 "trace", "doctest", "numpy.f2py", "numpy.distutils", "numpy.testing", "torch.fx", "torch.package",
                 "torch.hub"] { m[name] = code }
    for name in ["shutil", "tempfile", "fileinput", "zipfile", "tarfile", "gzip", "bz2", "lzma", "sqlite3", "dbm",
                 "numpy.lib.npyio", "numpy.lib.format"] { m[name] = filesystem }
    for name in ["socket", "_socket", "ssl", "http", "httplib", "urllib", "urllib2", "urllib3", "requests", "ftplib",
                 "smtplib", "poplib", "imaplib", "nntplib", "telnetlib", "xmlrpc", "socketserver",
                 "torch.distributed.rpc"] { m[name] = network }
    for name in ["importlib", "imp", "pkgutil", "zipimport", "pydoc"] { m[name] = imports }
    for name in ["pickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "yaml", "jsonpickle"] { m[name] = nested }
    m["sys"] = interpreter
    return m
  }()

  /// Modules that other modules import and so expose as attributes; naming one anywhere inside a
  /// dotted global is refused.
  static let reachedModules: Set<String> = [
    "os", "posix", "nt", "sys", "subprocess", "builtins", "shutil", "socket", "importlib", "pickle", "_pickle",
    "marshal", "ctypes", "runpy", "pty", "webbrowser", "multiprocessing",
  ]

  /// Single names refused in modules whose other names checkpoints use.
  static let names: [String: [String: String]] = [
    "builtins": [
      "eval": code, "exec": code, "execfile": code, "compile": code, "breakpoint": code, "apply": code,
      "help": programs, "reload": imports,
      "open": filesystem, "file": filesystem,
      "getattr": attributes, "setattr": attributes, "delattr": attributes, "globals": attributes,
      "locals": attributes, "vars": attributes,
      "exit": interpreter, "quit": interpreter,
    ],
    "operator": ["attrgetter": attributes, "methodcaller": attributes],
    "_operator": ["attrgetter": attributes, "methodcaller": attributes],
    "io": ["open": filesystem, "open_code": filesystem, "FileIO": filesystem],
    "_io": ["open": filesystem, "open_code": filesystem, "FileIO": filesystem],
    "codecs": ["open": filesystem],
    "numpy": [
      "load": nested, "loads": nested, "save": filesystem, "savez": filesystem, "savez_compressed": filesystem,
      "savetxt": filesystem, "loadtxt": filesystem, "genfromtxt": filesystem, "fromfile": filesystem,
      "fromregex": filesystem, "memmap": filesystem,
    ],
    "torch": ["load": nested, "save": filesystem],
    "torch.serialization": ["load": nested, "_load": nested, "_legacy_load": nested, "save": filesystem,
                            "_save": filesystem, "_legacy_save": filesystem],
    "torch.storage": ["_load_from_bytes": nested],
    "torch.jit": ["load": nested],
  ]

  /// pathlib's path classes (read as inert objects).
  static let pathClasses: Set<String> = ["Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath"]
}
