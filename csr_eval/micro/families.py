"""Micro models of other families than LLaVA, built from the classes real users load, on the micro tokenizer.

Why: CSR must run on Qwen2.5-VL / Qwen3-VL / Idefics3 (SmolVLM) as on LLaVA-1.5, and those differ exactly
where a toolkit breaks (3-D rotary positions and flattened patches for the Qwen2-VL family, pixel masks
and image splitting for Idefics3; see :mod:`csr_eval.model_family`). Each builder makes the real
``...ForConditionalGeneration`` and ``...Processor`` from configs (no download), with the shipped micro
tokenizer plus the family's special tokens and a chat template in LLaVA-1.5's layout (``USER: <image>\\n...
ASSISTANT:``, the image written the family's way), so the toolkit's prompt handling is the same for all.
The tests build tiny random-weight ones; ``csr-train pretrain-micro --family qwen2_5_vl`` trains a small one.
"""

from __future__ import annotations

from dataclasses import dataclass

from csr_eval.micro.models import chat_template
from csr_eval.micro.world import IMAGE_SIZE

FAMILIES = ("qwen2_5_vl", "qwen3_vl", "idefics3")
QWEN_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|video_pad|>")
QWEN_IMAGE_MARKUP = "<|vision_start|><image><|vision_end|>"  # <image> is the image pad token
IDEFICS3_TOKENS = ("<fake_token_around_image>", "<global-img>", "<end_of_utterance>")


@dataclass
class MicroFamilyConfig:
    """Sizes; the defaults are the tests' tiny models (a few MB)."""

    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    text_mlp: int = 128
    vision_width: int = 32
    vision_layers: int = 2
    vision_heads: int = 2
    patch_size: int = 8  # 64 / 8 = 8 x 8 patches; merged 2 x 2 -> 16 image tokens
    max_positions: int = 512


def add_qwen_tokens(tokenizer) -> dict:
    """Add the Qwen2-VL family's special tokens to the micro tokenizer (``<image>`` stays the image pad token);
    returns the config's token ids."""
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN_TOKENS)})
    return {name: tokenizer.convert_tokens_to_ids(token) for name, token in (
        ("image_token_id", "<image>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}


def _text_config(tokenizer, c: MicroFamilyConfig, **extra) -> dict:
    return dict(vocab_size=len(tokenizer), hidden_size=c.text_width, intermediate_size=c.text_mlp,
                num_hidden_layers=c.text_layers, num_attention_heads=c.text_heads, num_key_value_heads=c.text_kv_heads,
                max_position_embeddings=c.max_positions, pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True,
                **extra)


def _qwen(family: str, tokenizer, c: MicroFamilyConfig):
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor, Qwen3VLConfig,
                              Qwen3VLForConditionalGeneration, Qwen3VLProcessor, Qwen3VLVideoProcessor)

    ids = add_qwen_tokens(tokenizer)
    head = c.text_width // c.text_heads
    section = [head // 2 - 2 * (head // 6), head // 6, head // 6]  # t, h, w halves of the rotary dims
    vision = dict(depth=c.vision_layers, hidden_size=c.vision_width, intermediate_size=2 * c.vision_width,
                  num_heads=c.vision_heads, out_hidden_size=c.text_width, patch_size=c.patch_size,
                  spatial_merge_size=2, temporal_patch_size=2)
    pixels = IMAGE_SIZE * IMAGE_SIZE
    image_processor = Qwen2VLImageProcessor(patch_size=c.patch_size, merge_size=2, min_pixels=pixels, max_pixels=pixels)
    template = chat_template(QWEN_IMAGE_MARKUP)
    if family == "qwen2_5_vl":
        config = Qwen2_5_VLConfig(text_config=_text_config(tokenizer, c, rope_parameters={
            "rope_type": "default", "rope_theta": 10000.0, "mrope_section": section}),
            # one window per image, full attention in every block: a 64-pixel image has nothing to window, and
            # the windowed split costs one attention call per window on CPU (the pretraining's bottleneck)
            vision_config=dict(vision, fullatt_block_indexes=list(range(c.vision_layers)), window_size=IMAGE_SIZE),
            tie_word_embeddings=True, **ids)
        model = Qwen2_5_VLForConditionalGeneration(config)
        processor = Qwen2_5_VLProcessor(image_processor=image_processor, video_processor=Qwen2VLVideoProcessor(),
                                        tokenizer=tokenizer, chat_template=template)
    else:
        config = Qwen3VLConfig(text_config=_text_config(tokenizer, c, head_dim=head, rope_parameters={
            "rope_type": "default", "rope_theta": 10000.0, "mrope_section": section, "mrope_interleaved": True}),
            vision_config=dict(vision, num_position_embeddings=(IMAGE_SIZE // c.patch_size) ** 2,
                               deepstack_visual_indexes=[0]),
            tie_word_embeddings=True, **ids)
        model = Qwen3VLForConditionalGeneration(config)
        processor = Qwen3VLProcessor(image_processor=image_processor, video_processor=Qwen3VLVideoProcessor(),
                                     tokenizer=tokenizer, chat_template=template)
    return model, processor


def _idefics3(tokenizer, c: MicroFamilyConfig):
    from transformers import (Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessor,
                              Idefics3Processor)

    tokenizer.add_special_tokens({"additional_special_tokens": list(IDEFICS3_TOKENS)})
    scale = 2
    image_seq_len = (IMAGE_SIZE // c.patch_size) ** 2 // scale ** 2
    config = Idefics3Config(
        vision_config=dict(hidden_size=c.vision_width, intermediate_size=2 * c.vision_width,
                           num_hidden_layers=c.vision_layers, num_attention_heads=c.vision_heads,
                           image_size=IMAGE_SIZE, patch_size=c.patch_size),
        text_config=_text_config(tokenizer, c), scale_factor=scale,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), tie_word_embeddings=True)
    model = Idefics3ForConditionalGeneration(config)
    image_processor = Idefics3ImageProcessor(do_image_splitting=False, size={"longest_edge": IMAGE_SIZE},
                                             max_image_size={"longest_edge": IMAGE_SIZE})
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=image_seq_len,
                                  chat_template=chat_template("<image>"))
    return model, processor


def build_micro_family(family: str, tokenizer, config: MicroFamilyConfig | None = None, seed: int = 0):
    """An untrained micro model of ``family`` (one of :data:`FAMILIES`) and its processor; ``tokenizer`` is
    extended in place with the family's special tokens."""
    import torch

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    config = config or MicroFamilyConfig()
    torch.manual_seed(seed)
    model, processor = _idefics3(tokenizer, config) if family == "idefics3" else _qwen(family, tokenizer, config)
    for key in ("pad_token_id", "eos_token_id", "bos_token_id"):
        setattr(model.generation_config, key, getattr(tokenizer, key))
    return model.eval(), processor
