"""The open_clip ViT copied into HF's CLIP vision tower computes the same hidden states."""

import pytest

torch = pytest.importorskip("torch")

from transformers import CLIPVisionConfig, CLIPVisionModel  # noqa: E402

from csr_train.pretrain_micro.clip import build_clip  # noqa: E402
from csr_train.pretrain_micro.config import ClipPretrainConfig  # noqa: E402
from csr_train.pretrain_micro.vision_transfer import load_into_vision_tower  # noqa: E402


class _Tok:
    pad_token_id, eos_token_id = 0, 3

    def __len__(self):
        return 50


def test_hidden_states_match_open_clip():
    config = ClipPretrainConfig(vision_layers=2)
    clip = build_clip(config, _Tok(), seed=0).eval()
    for p in clip.visual.parameters():  # non-trivial weights everywhere, layer norms included
        p.data.add_(0.02 * torch.randn_like(p))
    hf = CLIPVisionModel(CLIPVisionConfig(hidden_size=128, intermediate_size=512, num_hidden_layers=2,
                                          num_attention_heads=4, image_size=64, patch_size=8,
                                          hidden_act="gelu")).eval()
    load_into_vision_tower(hf, clip.visual)
    x = torch.randn(2, 3, 64, 64)
    v = clip.visual
    with torch.no_grad():
        z = v.conv1(x).flatten(2).transpose(1, 2)
        z = torch.cat([v.class_embedding.expand(2, 1, -1), z], 1) + v.positional_embedding
        z = v.transformer(v.ln_pre(z))
        out = hf(x, output_hidden_states=True)
    assert torch.allclose(out.hidden_states[-1], z, atol=1e-5)
    assert torch.allclose(out.pooler_output, v.ln_post(z[:, 0]), atol=1e-5)


def test_quick_gelu_tower_is_not_silently_accepted():
    """HF's default activation differs from open_clip's: outputs must then differ (why we set gelu)."""
    clip = build_clip(ClipPretrainConfig(vision_layers=1), _Tok(), seed=0).eval()
    hf = CLIPVisionModel(CLIPVisionConfig(hidden_size=128, intermediate_size=512, num_hidden_layers=1,
                                          num_attention_heads=4, image_size=64, patch_size=8)).eval()
    load_into_vision_tower(hf, clip.visual)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        hf_gelu = CLIPVisionModel(CLIPVisionConfig(hidden_size=128, intermediate_size=512, num_hidden_layers=1,
                                                   num_attention_heads=4, image_size=64, patch_size=8,
                                                   hidden_act="gelu")).eval()
        load_into_vision_tower(hf_gelu, clip.visual)
        assert not torch.allclose(hf(x).last_hidden_state, hf_gelu(x).last_hidden_state, atol=1e-6)
