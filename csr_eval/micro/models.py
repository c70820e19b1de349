"""Builders for the micro models, from the classes real users load.

Why: every code path of the toolkit must run here exactly as on LLaVA-1.5, so the micro-LLaVA is a real
``LlavaForConditionalGeneration`` (CLIP vision tower + Llama language model) with a real ``LlavaProcessor``,
a tokenizer trained with the ``tokenizers`` library on micro-world text, and LLaVA-1.5's chat layout
``USER: <image>\\n{prompt} ASSISTANT:``. Saved with ``save_pretrained`` it loads with
``AutoModelForImageTextToText`` / ``AutoProcessor``. Training (``csr-train pretrain-micro``) is separate;
this module only builds the untrained architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from csr_eval.micro.world import IMAGE_SIZE

SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>", "<image>")
def chat_template(image: str) -> str:
    """LLaVA-1.5's conversation layout (as the llava-hf template renders it), one assistant turn per answer, with
    ``image`` where the image goes (other families of micro model write it their way: micro/families.py)."""
    return (
        "{% for message in messages %}"
        "{% if message['role'] == 'user' %}USER: "
        "{% for item in message['content'] %}"
        "{% if item['type'] == 'image' %}" + image + "\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
        "{% endfor %} "
        "{% elif message['role'] == 'assistant' %}ASSISTANT: "
        "{% for item in message['content'] %}{% if item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}"
        "</s>"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT:{% endif %}")


CHAT_TEMPLATE = chat_template("<image>")


@dataclass
class MicroLlavaConfig:
    """Sizes of the micro-LLaVA; defaults follow the prototype that captioned well on 2 CPU cores."""

    vision_width: int = 128
    vision_layers: int = 3
    vision_heads: int = 4
    patch_size: int = 8
    text_width: int = 256
    text_layers: int = 4
    text_heads: int = 4
    text_mlp: int = 704
    vision_feature_layer: tuple[int, ...] = (-2, -1)
    vision_feature_select_strategy: str = "full"  # keep CLS: (64 // 8) ** 2 + 1 = 65 image tokens
    max_positions: int = 256

    @property
    def image_tokens(self) -> int:
        patches = (IMAGE_SIZE // self.patch_size) ** 2
        return patches + (1 if self.vision_feature_select_strategy == "full" else 0)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on micro-world text, wrapped as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        pad_token="<pad>", extra_special_tokens={"image_token": "<image>"})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer, config: MicroLlavaConfig):
    """``LlavaProcessor`` whose image-token count matches the model (CLS kept: ``num_additional_image_tokens=1``)."""
    from transformers import CLIPImageProcessor, LlavaProcessor

    image_processor = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE},
                                         crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    return LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=config.patch_size,
                          vision_feature_select_strategy=config.vision_feature_select_strategy,
                          num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE)


def build_micro_llava(tokenizer, config: MicroLlavaConfig | None = None, seed: int = 0):
    """An untrained micro ``LlavaForConditionalGeneration`` and its processor."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    config = config or MicroLlavaConfig()
    vision = CLIPVisionConfig(hidden_size=config.vision_width, intermediate_size=4 * config.vision_width,
                              num_hidden_layers=config.vision_layers, num_attention_heads=config.vision_heads,
                              image_size=IMAGE_SIZE, patch_size=config.patch_size, hidden_act="gelu",
                              projection_dim=config.vision_width)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=config.text_width,
                       intermediate_size=config.text_mlp, num_hidden_layers=config.text_layers,
                       num_attention_heads=config.text_heads, num_key_value_heads=config.text_heads,
                       max_position_embeddings=config.max_positions, tie_word_embeddings=True,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id)
    llava = LlavaConfig(vision_config=vision, text_config=text,
                        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                        image_seq_length=config.image_tokens, projector_hidden_act="gelu",
                        vision_feature_layer=list(config.vision_feature_layer),
                        vision_feature_select_strategy=config.vision_feature_select_strategy,
                        tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(llava)
    for key in ("pad_token_id", "eos_token_id", "bos_token_id"):
        setattr(model.generation_config, key, getattr(tokenizer, key))
    return model, build_processor(tokenizer, config)
