import EAMIngest

/// Checkpoints of families eamc does not compile, named by their tensor names, with what to do.
enum UnsupportedFamilies {
  /// The family and what to do, or nil when the names look like none of them.
  static func describe(_ names: Dictionary<String, Tensor>.Keys) -> String? {
    func any(_ test: (String) -> Bool) -> Bool { names.contains(where: test) }
    func has(_ name: String) -> Bool { names.contains(name) }
    let supported = "eamc compiles timm/DeiT/DINOv2/Hugging Face ViTs and Swin"
    if any({ $0.hasPrefix("visual.transformer.resblocks.") || $0 == "visual.conv1.weight" }) {
      return "a CLIP/OpenCLIP model (vision tower 'visual.*', 'transformer.resblocks.*'): not supported yet (\(supported))"
    }
    if any({ $0.hasPrefix("vision_model.encoder.layers.") || $0.contains("embeddings.patch_embedding.weight") }) {
      return "a Hugging Face CLIP/SigLIP vision tower ('vision_model.encoder.layers.*'): not supported yet (\(supported))"
    }
    if has("conv1.weight") && any({ $0.hasPrefix("layer1.") }) {
      return "a ResNet-style CNN ('conv1', 'layer1.*'): not supported (\(supported); eamc compresses attention maps, a CNN has none)"
    }
    if has("conv_stem.weight") || (any({ $0.hasPrefix("stem.") }) && any({ $0.hasPrefix("stages.") }) && !any({ $0.contains("attn") })) {
      return "a CNN (EfficientNet/MobileNet/ConvNeXt-style 'conv_stem'/'stem', 'stages'): not supported (\(supported); a CNN has no attention maps)"
    }
    if any({ $0.contains("attention.self.query.weight") }) && !any({ $0.contains("patch_embeddings") }) {
      return "a text transformer (BERT-style 'attention.self.query'): not supported (\(supported))"
    }
    let convolutions = names.filter { $0.hasSuffix("running_mean") }.count
    if convolutions >= 3 && !has("patch_embed.proj.weight") {
      return "a CNN with \(convolutions) batch norms and no patch embedding: not supported (\(supported))"
    }
    return nil
  }
}
