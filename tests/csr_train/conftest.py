"""Fixtures for the CSR loop: a tiny micro-world prompt set and the shipped micro models (real, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def csr_world(tmp_path_factory) -> Path:
    """Eight prompt images of the micro-world with their COCO annotations."""
    from csr_eval.micro.export import build
    return build(tmp_path_factory.mktemp("csr") / "world", seed=0, n_train=0, n_csr=8, n_val=0)


@pytest.fixture(scope="session")
def micro_runner():
    from csr_eval.micro.shipped import shipped_model
    from csr_eval.runner import ModelRunner
    return ModelRunner.load(shipped_model("micro-llava"))


@pytest.fixture(scope="session")
def micro_clip():
    from csr_train.reward import ClipRelevance
    return ClipRelevance.micro()


def tiny_overrides(world: Path, **extra) -> list[str]:
    """A CSR config small enough for CI: 4 prompts, short searches, two DPO steps, no evaluation."""
    settings = {
        "data.prompts": str(world / "llava_instruct_150k.json"), "data.images": str(world / "images" / "csr"),
        "data.annotations": str(world / "annotations"), "data.micro_world": "", "data.prompts_per_iteration": 4,
        "search.max_sentences": 3, "search.prompts_per_batch": 2, "dpo.max_steps": 2, "dpo.batch_size": 2,
        "dpo.save_steps": 1, "eval.suite": "", "iterations": 1}
    settings.update(extra)
    return [f"--set={k}={v}" for k, v in settings.items()]


# LLaVA-1.5's llava-hf chat template (llava-hf/llava-1.5-*-hf chat_template.json, as transformers' LLaVA processor
# tests quote it, without its comments): no BOS, "ASSISTANT:" to start the answer, and an assistant turn closed by
# a space rather than by </s>.
LLAVA_HF_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")


@pytest.fixture(scope="session")
def llava_hf_layout(tmp_path_factory, csr_world) -> Path:
    """A random-weight micro-LLaVA laid out as llava-hf's LLaVA-1.5: transformers' ``LlamaTokenizer`` (Metaspace,
    byte fallback, a BOS added to every text) trained on micro-world text, and the llava-hf chat template."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizer

    from csr_eval.micro.models import MicroLlavaConfig, build_micro_llava
    from csr_train.prompts import load_prompts

    texts = [p.text for p in load_prompts(csr_world / "llava_instruct_150k.json")] + [
        "There is a cup at the top. A dog is in the center.", "There is a car on the left. A person is here."]
    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    bpe.train_from_iterator(texts * 20, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
        initial_alphabet=[f"<0x{i:02X}>" for i in range(256)] + ["▁"]))
    learned = json.loads(bpe.to_str())["model"]
    tokenizer = LlamaTokenizer(vocab=learned["vocab"], merges=[tuple(m) for m in learned["merges"]])
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    tokenizer.add_special_tokens({"pad_token": "<pad>"})
    tokenizer.add_bos_token = True
    tokenizer.update_post_processor()
    model, processor = build_micro_llava(tokenizer, MicroLlavaConfig(vision_width=32, vision_layers=2, vision_heads=2, text_mlp=64,
                                                                     text_width=32, text_layers=1, text_heads=2))
    processor.chat_template = tokenizer.chat_template = LLAVA_HF_TEMPLATE
    folder = tmp_path_factory.mktemp("llava_hf_layout")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# Qwen2.5-VL's own chat template (its default system prompt, ChatML turns closed by <|im_end|>, the answer right
# after the assistant line), with the micro-Qwen's image pad token <image> in the place of <|image_pad|>.
QWEN_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<|vision_start|><image><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


# Micro-world answers written in paragraphs, as Qwen2.5-VL writes detailed descriptions: Qwen's pre-tokenizer keeps
# a sentence's "." and the line breaks after it together, so ".\n\n" and ".\n" become tokens, as in its vocabulary.
QWEN_TRAINING_TEXT = ("There is a cup at the top.\n\nA dog is in the center. It is small.\nThe car is on the left.\n\n"
                      "A person is here. There is a cat.")


def qwen_tokenizer(texts: list[str]):
    """transformers' ``Qwen2Tokenizer`` (Qwen2's pre-tokenizer regex, byte-level BPE, no BOS) with a vocabulary
    learnt from ``texts``, Qwen2.5-VL-Instruct's special tokens and ``<|im_end|>`` as EOS."""
    import json

    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    bpe.train_from_iterator(texts * 20, trainers.BpeTrainer(vocab_size=500, show_progress=False,
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    learned = json.loads(bpe.to_str())["model"]
    tokenizer = Qwen2Tokenizer(vocab=learned["vocab"], merges=[tuple(m) for m in learned["merges"]],
                               extra_special_tokens={"image_token": "<image>"})  # the micro families' image pad
    tokenizer.add_special_tokens({"eos_token": "<|im_end|>", "additional_special_tokens": [
        "<|endoftext|>", "<|im_start|>", "<image>"]})
    return tokenizer


@pytest.fixture(scope="session")
def qwen_layout(tmp_path_factory, csr_world):
    """A random-weight micro Qwen2.5-VL laid out as Qwen2.5-VL-Instruct: Qwen2's tokenizer (trained on micro-world
    text in paragraphs), its chat template, <|im_end|> as the tokenizer's EOS and both <|im_end|> and <|endoftext|>
    as the generation config's (the micro families otherwise share LLaVA's layout and tokenizer)."""
    from csr_eval.micro.families import MicroFamilyConfig, build_micro_family
    from csr_train.prompts import load_prompts

    tokenizer = qwen_tokenizer([p.text for p in load_prompts(csr_world / "llava_instruct_150k.json")] +
                               [QWEN_TRAINING_TEXT])
    model, processor = build_micro_family("qwen2_5_vl", tokenizer, MicroFamilyConfig())
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    processor.chat_template = tokenizer.chat_template = QWEN_TEMPLATE
    folder = tmp_path_factory.mktemp("qwen_layout") / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
