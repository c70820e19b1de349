"""The micro-LLaVA architecture: real classes, standard save/load, the LLaVA-1.5 prompt, generation.

(The trained checkpoints are not shipped yet; this checks the architecture they will be trained in.)
"""

import random

import pytest

torch = pytest.importorskip("torch")

from csr_eval.micro.language import DETAIL_PROMPTS, detailed_description, pope_question  # noqa: E402
from csr_eval.micro.models import MicroLlavaConfig, build_micro_llava, train_tokenizer  # noqa: E402
from csr_eval.micro.world import CATEGORIES, render, sample_scene  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer():
    rng = random.Random(0)
    texts = [detailed_description(sample_scene(rng), rng) for _ in range(300)]
    texts += list(DETAIL_PROMPTS) + [pope_question(c.name) for c in CATEGORIES] + ["Yes", "No", "USER: ASSISTANT:"]
    return train_tokenizer(texts, vocab_size=400)


def test_tokenizer_keeps_category_words_whole_and_decodes_cleanly(tokenizer):
    text = "There is a traffic light at the top left."
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert len(ids) <= 11


def test_save_load_with_auto_classes_and_generate(tokenizer, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    config = MicroLlavaConfig(vision_layers=2, text_layers=2, text_width=128, text_mlp=256)
    model, processor = build_micro_llava(tokenizer, config)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    model = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    processor = AutoProcessor.from_pretrained(tmp_path)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": DETAIL_PROMPTS[0]}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt == f"USER: <image>\n{DETAIL_PROMPTS[0]} ASSISTANT:"
    image = render(sample_scene(random.Random(1)))
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    assert int((inputs["input_ids"] == image_token).sum()) == config.image_tokens == 65
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    prompt_length = inputs["input_ids"].shape[1]
    assert prompt_length < out.shape[1] <= prompt_length + 5
    assert isinstance(processor.decode(out[0, prompt_length:], skip_special_tokens=True), str)
