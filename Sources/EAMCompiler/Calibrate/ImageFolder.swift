import Foundation

/// The images of a folder, in a fixed order.
public enum ImageFolder {
  static let extensions: Set<String> = ["jpg", "jpeg", "png"]

  /// JPEG and PNG files directly in `path`, sorted by name; an error if there are none.
  public static func list(_ path: String) throws(CompileError) -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      throw CompileError("\(path): no such folder")
    }
    guard isDir.boolValue else { throw CompileError("\(path): not a folder of images") }
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
      throw CompileError("\(path): cannot list: \(error.localizedDescription)")
    }
    let images = names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
    guard !images.isEmpty else { throw CompileError("\(path): no JPEG or PNG images in this folder") }
    return images.map { (path as NSString).appendingPathComponent($0) }
  }
}
