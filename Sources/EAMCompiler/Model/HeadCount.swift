import EAMIngest
import Foundation

/// Where a model's attention head count came from. A ViT's tensors do not record it (the
/// fused `qkv` projection is the same for any split of the width), so unless the user or the
/// checkpoint says, it is a guess: width / 64, right for every timm ViT/DeiT/DINOv2 size up to
/// Large, wrong for ViT-Huge (1280 wide, 16 heads) and for custom models.
public enum HeadCountSource: Sendable, Equatable {
  /// `--heads N`.
  case flag
  /// Read from what the checkpoint keeps beside its weights (`args.model 'deit_small_patch16_224'`,
  /// `config.json num_attention_heads`).
  case metadata(String)
  /// Read from the tensors' shapes (Swin's relative position bias tables).
  case shapes
  /// Width / 64 (head dimension 64).
  case guessed

  public var isGuess: Bool { self == .guessed }

  /// For the configuration lines: "given with --heads", "guessed: width 384 / head dimension 64".
  public func describe(width: Int) -> String {
    switch self {
    case .flag: "given with --heads"
    case .metadata(let m): "read from the checkpoint: \(m)"
    case .shapes: "read from the tensor shapes"
    case .guessed: "GUESSED: width \(width) / head dimension 64; nothing in the checkpoint says; pass --heads N if the model was trained otherwise"
    }
  }
}

/// Head counts that a checkpoint's metadata implies.
enum HeadCount {
  /// Per timm/DINOv2 size name: (width, heads). A name counts only when the width matches.
  static let sizes: [(names: [String], width: Int, heads: Int)] = [
    (["tiny", "vitt"], 192, 3), (["small", "vits"], 384, 6), (["medium"], 512, 8), (["base", "vitb"], 768, 12),
    (["large", "vitl"], 1024, 16), (["huge", "vith"], 1280, 16), (["giant", "vitg"], 1408, 16),
    (["giant", "vitg"], 1536, 24), (["so400m"], 1152, 16),
  ]

  /// Metadata entries that name the model (timm `arch`, DeiT/timm `args.model`, ...), in order.
  static let nameKeys = ["arch", "args.model", "args.arch", "model_name", "model", "hyper_parameters.model_name",
                         "hyper_parameters.model", "args.model_name"]

  /// The head count and where it was read, from the checkpoint's metadata or a Hugging Face
  /// `config.json` beside it; nil when neither says (or what they say does not fit `width`).
  static func fromMetadata(_ checkpoint: Checkpoint, path: String, width: Int) -> (heads: Int, source: String)? {
    for (key, value) in checkpoint.metadata.sorted(by: { $0.key < $1.key })
    where key.hasSuffix("num_heads") || key.hasSuffix("num_attention_heads") {
      if let h = Int(value), h > 0, width % h == 0 { return (h, "\(key) = \(h)") }
    }
    for key in nameKeys {
      guard let name = checkpoint.metadata[key], let h = heads(forName: name, width: width) else { continue }
      return (h, "\(key) '\(name)'")
    }
    if let h = configJSON(besides: path, width: width) { return (h, "config.json num_attention_heads = \(h)") }
    return nil
  }

  /// `deit_small_patch16_224`, `vit_huge_patch14_clip_224`, `dinov2_vitg14`: heads when the name's
  /// size word has a known width equal to `width`.
  static func heads(forName name: String, width: Int) -> Int? {
    let words = name.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
    for size in sizes where size.width == width {
      for word in words where size.names.contains(where: { word == $0 || (word.hasPrefix($0) && $0.hasPrefix("vit")) }) {
        return size.heads
      }
    }
    return nil
  }

  /// `num_attention_heads` of a Hugging Face `config.json` in the checkpoint's folder.
  static func configJSON(besides path: String, width: Int) -> Int? {
    let config = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("config.json")
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: config),
          let size = attributes[.size] as? Int, size < 1 << 20,
          let data = FileManager.default.contents(atPath: config),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
    let vision = (object["vision_config"] as? [String: Any]) ?? object
    guard let h = vision["num_attention_heads"] as? Int, h > 0, width % h == 0 else { return nil }
    if let hidden = vision["hidden_size"] as? Int, hidden != width { return nil }
    return h
  }
}
