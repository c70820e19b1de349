"""Copy an open_clip ViT into Hugging Face's ``CLIPVisionModel`` (the vision tower of LLaVA).

Why: LLaVA's vision tower is a CLIP image encoder. The micro-LLaVA starts, as LLaVA does, from the
image encoder of its CLIP; open_clip and transformers name and pack the same weights differently
(open_clip keeps q, k and v in one ``in_proj`` matrix). The HF config must use ``hidden_act="gelu"``:
open_clip's ViT uses exact GELU, HF's CLIP defaults to quick_gelu.
"""

from __future__ import annotations

import torch


def open_clip_visual_to_hf(visual) -> dict[str, torch.Tensor]:
    """State dict of HF's CLIP vision transformer (no ``vision_model.`` prefix) from an open_clip ViT."""
    src = visual.state_dict()
    out = {
        "embeddings.class_embedding": src["class_embedding"],
        "embeddings.patch_embedding.weight": src["conv1.weight"],
        "embeddings.position_embedding.weight": src["positional_embedding"],
        "pre_layrnorm.weight": src["ln_pre.weight"], "pre_layrnorm.bias": src["ln_pre.bias"],
        "post_layernorm.weight": src["ln_post.weight"], "post_layernorm.bias": src["ln_post.bias"],
    }
    for i in range(len(visual.transformer.resblocks)):
        s, d = f"transformer.resblocks.{i}.", f"encoder.layers.{i}."
        q, k, v = src[s + "attn.in_proj_weight"].chunk(3)
        qb, kb, vb = src[s + "attn.in_proj_bias"].chunk(3)
        out.update({
            d + "self_attn.q_proj.weight": q, d + "self_attn.q_proj.bias": qb,
            d + "self_attn.k_proj.weight": k, d + "self_attn.k_proj.bias": kb,
            d + "self_attn.v_proj.weight": v, d + "self_attn.v_proj.bias": vb,
            d + "self_attn.out_proj.weight": src[s + "attn.out_proj.weight"],
            d + "self_attn.out_proj.bias": src[s + "attn.out_proj.bias"],
            d + "layer_norm1.weight": src[s + "ln_1.weight"], d + "layer_norm1.bias": src[s + "ln_1.bias"],
            d + "layer_norm2.weight": src[s + "ln_2.weight"], d + "layer_norm2.bias": src[s + "ln_2.bias"],
            d + "mlp.fc1.weight": src[s + "mlp.c_fc.weight"], d + "mlp.fc1.bias": src[s + "mlp.c_fc.bias"],
            d + "mlp.fc2.weight": src[s + "mlp.c_proj.weight"], d + "mlp.fc2.bias": src[s + "mlp.c_proj.bias"],
        })
    return {k: v.detach().clone() for k, v in out.items()}


def load_into_vision_tower(vision_tower, visual) -> None:
    """Load the open_clip ViT into a HF CLIP vision tower; every weight must be matched."""
    weights = open_clip_visual_to_hf(visual)
    if any(k.startswith("vision_model.") for k in vision_tower.state_dict()):  # CLIPVisionModel wrapper
        weights = {"vision_model." + k: v for k, v in weights.items()}
    missing, unexpected = vision_tower.load_state_dict(weights, strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    if missing or unexpected:
        raise ValueError(f"vision transfer mismatch: missing {missing}, unexpected {unexpected}")
