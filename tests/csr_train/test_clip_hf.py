"""The transformers CLIPModel backend of R_I (the released code's), on a tiny CLIP built offline.

The default for LLaVA-1.5 runs is ``hf:openai/clip-vit-large-patch14-336``; we cannot download it here, so
the same classes (``CLIPModel``, ``CLIPProcessor``) are built small, saved and loaded by path.
"""

from __future__ import annotations

import pytest
from PIL import Image


@pytest.fixture(scope="module")
def tiny_hf_clip(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from csr_eval.micro.shipped import shipped_model

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(shipped_model("micro-llava"))
    tokenizer.model_max_length = 16  # CLIP's context, tiny: long sentences must be truncated, not fail
    config = CLIPConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "eos_token_id": tokenizer.eos_token_id,
                     "pad_token_id": tokenizer.pad_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=16)
    folder = tmp_path_factory.mktemp("clip") / "tiny-clip"
    CLIPModel(config).eval().save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def test_hf_backend_scores_batched_and_truncated(tiny_hf_clip):
    import torch

    from csr_train.reward import ClipRelevance

    clip = ClipRelevance(f"hf:{tiny_hf_clip}")
    assert clip.backend == "hf"
    image = Image.new("RGB", (64, 64), (200, 40, 40))
    image_embedding = clip.embed_image(image)
    assert image_embedding.shape == (16,) and torch.isclose(image_embedding.norm(), torch.tensor(1.0))
    long = "There is a dog at the top left and a cup in the center and a car at the bottom right of it."
    sentences = ["There is a dog.", long, "A cup."]
    scores = clip.scores(image_embedding, sentences)
    assert len(scores) == 3 and all(0.0 <= s <= 100.0 for s in scores)
    # batched = one at a time: padding does not change a sentence's score
    assert scores == pytest.approx([clip.scores(image_embedding, [s])[0] for s in sentences], abs=1e-4)
