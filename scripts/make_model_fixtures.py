#!/usr/bin/env python3
"""Small seeded models of every supported family -> Tests/Fixtures/models/.

For each model NAME writes:
  NAME.safetensors   float32 state dict, keys exactly as timm / Hugging Face name them
  NAME.input.npy     float32 NCHW input, batch 2, seeded N(0,1)
  NAME.output.npy    float32 eval-mode output (timm: model(x) = forward_head(forward_features(x)))
  NAME.json          description (constructor + kwargs, family, output kind, magnitudes)
and for vit_tiny and swin_tiny also NAME.pth (torch.save zip of the same state dict).

Re-initialisation rule (so that no path is trivially zero or identity), per parameter in
named_parameters() order, from one torch.Generator seeded per model:
  LayerNorm weight             1 + N(0, 0.1)
  LayerNorm bias               N(0, 0.1)
  layer-scale gamma / lambda1  U(0.05, 0.5)
  Linear / Conv2d weight       N(0, 1/sqrt(fan_in))     (fan_in = prod(shape[1:]))
  Linear / Conv2d bias         N(0, 0.02)
  everything else (pos_embed, cls/reg/dist/mask tokens, Swin relative_position_bias_table)  N(0, 0.1)

Run: /work/main/.venv/bin/python scripts/make_model_fixtures.py
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import FIXTURES, save_npy, set_determinism, stats, write_json  # noqa: E402

import timm  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402
from timm.models.deit import VisionTransformerDistilled  # noqa: E402
from timm.models.swin_transformer import SwinTransformer  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

OUT = FIXTURES / "models"
BATCH = 2


def reinit(model: nn.Module, seed: int) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    rules = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            mod_name, _, pname = name.rpartition(".")
            mod = model.get_submodule(mod_name) if mod_name else model
            if isinstance(mod, nn.LayerNorm):
                if pname == "weight":
                    v, r = 1 + 0.1 * torch.randn(p.shape, generator=g), "1+N(0,0.1)"
                else:
                    v, r = 0.1 * torch.randn(p.shape, generator=g), "N(0,0.1)"
            elif pname in ("gamma", "lambda1"):
                v, r = 0.05 + 0.45 * torch.rand(p.shape, generator=g), "U(0.05,0.5)"
            elif isinstance(mod, (nn.Linear, nn.Conv2d)) and pname == "weight":
                fan_in = int(np.prod(p.shape[1:]))
                v, r = torch.randn(p.shape, generator=g) / math.sqrt(fan_in), "N(0,1/sqrt(fan_in))"
            elif isinstance(mod, (nn.Linear, nn.Conv2d)) and pname == "bias":
                v, r = 0.02 * torch.randn(p.shape, generator=g), "N(0,0.02)"
            else:
                v, r = 0.1 * torch.randn(p.shape, generator=g), "N(0,0.1)"
            p.copy_(v)
            rules.append(f"{name}: {r}")
    return rules


# ----------------------------------------------------------------------------------------------
# lambda_vit ("MLP Can Be A Good Transformer Learner") shrunk block: norm1/attn removed.
class BlockShrink(nn.Module):
    """lambda_vit's Block_shrink: attention branch removed and replaced by identity, i.e.
    x = x + x ; x = x + mlp(norm2(x)). Only norm2.* and mlp.* parameters exist."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0):
        super().__init__()
        from timm.layers import Mlp
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)

    def forward(self, x):
        x = x + x
        x = x + self.mlp(self.norm2(x))
        return x


# ----------------------------------------------------------------------------------------------
# Sizes: width 64 everywhere; MLP ratio 4 only in vit_tiny, 2 elsewhere (keeps the committed
# fixtures small and checks that the MLP width is read from the weights, not assumed to be 4x).
def spec_list():
    vit_common = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2, mlp_ratio=2.0)
    specs = []
    specs.append(dict(name="vit_tiny", family="vit", cls=VisionTransformer,
                      kwargs=dict(vit_common, mlp_ratio=4.0, num_classes=10, global_pool="token"),
                      output_kind="logits", img=32, pth=True))
    specs.append(dict(name="vit_gap", family="vit", cls=VisionTransformer,
                      kwargs=dict(vit_common, num_classes=10, global_pool="avg", class_token=False,
                                  fc_norm=True),
                      output_kind="logits", img=32,
                      notes="no class token; mean over patch tokens, then fc_norm, then head "
                            "(final `norm` is Identity because fc_norm is used)"))
    specs.append(dict(name="vit_features", family="vit", cls=VisionTransformer,
                      kwargs=dict(vit_common, num_classes=0, global_pool="token"),
                      output_kind="features(normed class token)", img=32,
                      notes="num_classes=0: head is Identity; output = norm(x)[:, 0]"))
    specs.append(dict(name="deit_tiny", family="deit", cls=VisionTransformer,
                      kwargs=dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4,
                                  mlp_ratio=2.0, num_classes=10),
                      output_kind="logits", img=32,
                      notes="deit_tiny_patch16_224 arch scaled down (plain timm VisionTransformer), 4 heads"))
    specs.append(dict(name="deit_distilled", family="deit_distilled", cls=VisionTransformerDistilled,
                      kwargs=dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2,
                                  mlp_ratio=2.0, num_classes=10),
                      output_kind="logits (eval: (head(x[:,0]) + head_dist(x[:,1])) / 2)", img=32,
                      notes="deit_tiny_distilled_patch16_224 arch scaled down; tokens = [cls, dist, patches]"))
    specs.append(dict(name="dinov2_small", family="dinov2", cls=VisionTransformer,
                      kwargs=dict(img_size=42, patch_size=14, embed_dim=64, depth=2, num_heads=2,
                                  init_values=1e-5, num_classes=0),
                      output_kind="features(normed class token)", img=42,
                      notes="vit_small_patch14_dinov2 args scaled down; layer scale ls1/ls2 gammas re-initialised"))
    specs.append(dict(name="dinov2_reg", family="dinov2", cls=VisionTransformer,
                      kwargs=dict(img_size=42, patch_size=14, embed_dim=64, depth=2, num_heads=2,
                                  init_values=1e-5, reg_tokens=4, no_embed_class=True, num_classes=0),
                      output_kind="features(normed class token)", img=42,
                      notes="mirrors vit_small_patch14_reg4_dinov2 (reg_tokens=4, no_embed_class=True): "
                            "pos_embed covers patches only ([1, 9, 64]) and is added before "
                            "[cls, reg0..reg3] are prepended; tokens = [cls, 4 regs, patches]"))
    specs.append(dict(name="swin_tiny", family="swin", cls=SwinTransformer,
                      kwargs=dict(img_size=64, patch_size=4, window_size=4, embed_dim=32, depths=(2, 2),
                                  num_heads=(2, 4), mlp_ratio=2.0, num_classes=10),
                      output_kind="logits", img=64, pth=True,
                      notes="stage0 16x16 tokens dim32, stage1 8x8 dim64 after PatchMerging; window 4, "
                            "shift 2 in every odd block of both stages; head = norm -> avg pool -> fc"))
    specs.append(dict(name="lambda_vit_shrunk", family="lambda_vit", cls=VisionTransformer,
                      kwargs=dict(img_size=32, patch_size=8, embed_dim=64, depth=3, num_heads=2,
                                  mlp_ratio=2.0, num_classes=10),
                      shrink_blocks=[1],
                      output_kind="logits", img=32,
                      notes="timm ViT depth 3 whose blocks.1 is lambda_vit Block_shrink: no norm1.*/attn.* "
                            "keys; forward x = x + x; x = x + mlp(norm2(x))"))
    return specs


def build_timm(spec):
    model = spec["cls"](**spec["kwargs"])
    for i in spec.get("shrink_blocks", []):
        model.blocks[i] = BlockShrink(spec["kwargs"]["embed_dim"], spec["kwargs"].get("mlp_ratio", 4.0))
    return model


def hf_specs():
    try:
        import transformers  # noqa: F401
    except ImportError:
        print("transformers not installed: skipping hf_vit / hf_dinov2")
        return []
    from transformers import ViTConfig, ViTForImageClassification, Dinov2Config, Dinov2Model
    specs = []
    vcfg = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                image_size=32, patch_size=8, num_channels=3, num_labels=10, hidden_act="gelu",
                layer_norm_eps=1e-12, qkv_bias=True)
    specs.append(dict(name="hf_vit", family="hf_vit", hf_cls=ViTForImageClassification,
                      hf_cfg_cls=ViTConfig, config=vcfg, img=32,
                      output_kind="logits (ViTForImageClassification: classifier(layernorm(x)[:, 0]))",
                      notes="Hugging Face key names (vit.embeddings.*, vit.encoder.layer.N.*, vit.layernorm.*, "
                            "classifier.*); LayerNorm eps 1e-12; separate query/key/value Linear layers"))
    dcfg = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, image_size=42,
                patch_size=14, num_channels=3, hidden_act="gelu", layer_norm_eps=1e-6, layerscale_value=1.0,
                use_swiglu_ffn=False, qkv_bias=True)
    specs.append(dict(name="hf_dinov2", family="hf_dinov2", hf_cls=Dinov2Model, hf_cfg_cls=Dinov2Config,
                      config=dcfg, img=42,
                      output_kind="pooler_output (= layernorm(last_hidden_state)[:, 0], the normed class token)",
                      notes="Hugging Face key names (embeddings.*, encoder.layer.N.*, layernorm.*); "
                            "image 42 = 3x3 patches = num_positions, so no pos-embed interpolation; "
                            "embeddings.mask_token is present but unused at inference"))
    return specs


def hf_on_disk_state_dict(spec, model, x, y):
    """transformers >= 5 renames modules internally (q_proj, layers.N, ...); the files on the Hub and
    what save_pretrained writes keep the classic names (encoder.layer.N.attention.attention.query, ...).
    Use save_pretrained's names, and check that from_pretrained on that file reproduces y exactly."""
    import tempfile
    from safetensors.torch import load_file
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d, safe_serialization=True)
        sd = load_file(f"{d}/model.safetensors")
        with open(f"{d}/config.json") as f:
            hf_config = json.load(f)
        again = spec["hf_cls"].from_pretrained(d, attn_implementation="eager").eval()
        with torch.inference_mode():
            out = again(pixel_values=x)
            y2 = out.logits if spec["name"] == "hf_vit" else out.pooler_output
        assert torch.equal(y, y2), "HF save/load round trip changed the output"
    hf_config.pop("transformers_version", None)
    write_json(OUT / f"{spec['name']}.hf_config.json", hf_config)
    return {k: sd[k].contiguous().float() for k in sorted(sd)}


def verify_files(spec, x, y):
    """A freshly built model loading the written file(s) (strict) must reproduce y exactly."""
    from safetensors.torch import load_file
    name = spec["name"]
    files = [load_file(str(OUT / f"{name}.safetensors"))]
    if spec.get("pth"):
        files.append(torch.load(OUT / f"{name}.pth", weights_only=True))
    if "hf_cls" in spec:
        return  # checked through save_pretrained / from_pretrained in hf_on_disk_state_dict
    for sd in files:
        fresh = build_timm(spec).eval()
        fresh.load_state_dict(sd, strict=True)
        with torch.inference_mode():
            assert torch.equal(fresh(x), y), f"{name}: reloaded weights do not reproduce the output"


def run_one(spec, seed):
    torch.manual_seed(seed)
    if "hf_cls" in spec:
        cfg = spec["hf_cfg_cls"](**spec["config"], attn_implementation="eager")
        model = spec["hf_cls"](cfg)
    else:
        model = build_timm(spec)
    model.eval()
    rules = reinit(model, seed)
    g = torch.Generator().manual_seed(seed + 1000)
    x = torch.randn((BATCH, 3, spec["img"], spec["img"]), generator=g)
    with torch.inference_mode():
        if "hf_cls" in spec:
            out = model(pixel_values=x)
            y = out.logits if spec["name"] == "hf_vit" else out.pooler_output
        else:
            y = model(x)
    sd = {k: v.detach().contiguous().clone().float() for k, v in model.state_dict().items()}
    name = spec["name"]
    if "hf_cls" in spec:
        sd = hf_on_disk_state_dict(spec, model, x, y)
    save_file(sd, str(OUT / f"{name}.safetensors"), metadata={"format": "pt"})
    if spec.get("pth"):
        torch.save(sd, OUT / f"{name}.pth")
    verify_files(spec, x, y)
    save_npy(OUT / f"{name}.input.npy", x)
    save_npy(OUT / f"{name}.output.npy", y)
    desc = {
        "name": name,
        "family": spec["family"],
        "seed": seed,
        "output_kind": spec["output_kind"],
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "output_stats": stats(y.numpy()),
        "input_stats": stats(x.numpy()),
        "num_params": int(sum(v.numel() for v in sd.values())),
        "state_dict_keys": {k: list(v.shape) for k, v in sd.items()},
        "reinit_rule": "see scripts/make_model_fixtures.py docstring",
        "notes": spec.get("notes", ""),
        "files": [f"{name}.safetensors", f"{name}.input.npy", f"{name}.output.npy"]
                 + ([f"{name}.pth"] if spec.get("pth") else []),
        "layer_norm_eps": sorted({m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)}),
        "versions": {"torch": torch.__version__.split("+")[0], "timm": timm.__version__},
    }
    if "hf_cls" in spec:
        import transformers
        desc["source"] = "transformers"
        desc["hf_class"] = f"transformers.{spec['hf_cls'].__name__}"
        desc["hf_config"] = spec["config"]
        desc["files"].append(f"{name}.hf_config.json")
        desc["key_names"] = "as written by save_pretrained / found on the Hugging Face Hub"
        desc["versions"]["transformers"] = transformers.__version__
    else:
        desc["source"] = "timm"
        desc["timm_class"] = f"{spec['cls'].__module__}.{spec['cls'].__name__}"
        desc["timm_kwargs"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec["kwargs"].items()}
        if spec.get("shrink_blocks"):
            desc["shrink_blocks"] = spec["shrink_blocks"]
    write_json(OUT / f"{name}.json", desc)
    print(f"{name}: out {tuple(y.shape)} absmax {desc['output_stats']['abs_max']:.4f} "
          f"params {desc['num_params']}")


def main():
    set_determinism(0, threads=1)
    OUT.mkdir(parents=True, exist_ok=True)
    specs = spec_list() + hf_specs()
    for i, spec in enumerate(specs):
        run_one(spec, seed=1234 + i)
    manifest = sorted(p.name for p in OUT.iterdir() if p.suffix == ".json" and p.name != "index.json")
    write_json(OUT / "index.json", {"models": [m[:-5] for m in manifest]})


if __name__ == "__main__":
    main()
