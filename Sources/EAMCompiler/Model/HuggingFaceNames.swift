import EAMIngest

/// Renames Hugging Face `transformers` ViT and DINOv2 weights to timm's names, merging the
/// separate query, key and value projections into one `qkv`.
enum HuggingFaceNames {
  /// The prefix under which a checkpoint uses HF naming ("vit.", "dinov2.", ""), if it does.
  static func prefix(of names: [String]) -> String? {
    for p in ["vit.", "dinov2.", ""] where names.contains(p + "embeddings.patch_embeddings.projection.weight") {
      return p
    }
    return nil
  }

  static func convert(_ w: [String: Tensor], prefix p: String) throws(ModelError) -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    func take(_ from: String, _ to: String) {
      if let t = w[p + from] { out[to] = t }
    }
    take("embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight")
    take("embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias")
    take("embeddings.cls_token", "cls_token")
    take("embeddings.register_tokens", "reg_token")
    take("embeddings.position_embeddings", "pos_embed")
    take("layernorm.weight", "norm.weight")
    take("layernorm.bias", "norm.bias")
    // Heads live outside the backbone prefix.
    for (from, to) in [("classifier.weight", "head.weight"), ("classifier.bias", "head.bias")] {
      if let t = w[from] { out[to] = t }
    }
    var i = 0
    while w[p + "encoder.layer.\(i).attention.attention.query.weight"] != nil {
      let l = "encoder.layer.\(i)."
      let b = "blocks.\(i)."
      for part in ["weight", "bias"] {
        let q = w[p + l + "attention.attention.query.\(part)"]
        let k = w[p + l + "attention.attention.key.\(part)"]
        let v = w[p + l + "attention.attention.value.\(part)"]
        if let q, let k, let v {
          guard q.shape == k.shape, q.shape == v.shape else {
            throw ModelError("\(l)attention query, key and value \(part)s differ in shape")
          }
          out[b + "attn.qkv.\(part)"] = Tensor(shape: [3 * q.shape[0]] + q.shape.dropFirst(),
                                              values: q.values + k.values + v.values)
        }
      }
      let pairs = [
        ("attention.output.dense", "attn.proj"), ("intermediate.dense", "mlp.fc1"), ("output.dense", "mlp.fc2"),
        ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2"),  // DINOv2
        ("layernorm_before", "norm1"), ("layernorm_after", "norm2"), ("norm1", "norm1"), ("norm2", "norm2"),
      ]
      for (from, to) in pairs {
        take(l + from + ".weight", b + to + ".weight")
        take(l + from + ".bias", b + to + ".bias")
      }
      take(l + "layer_scale1.lambda1", b + "ls1.gamma")
      take(l + "layer_scale2.lambda1", b + "ls2.gamma")
      i += 1
    }
    return out
  }
}
