"""CSR on other families than LLaVA (issue 16): tiny random-weight Qwen2.5-VL, Qwen3-VL and Idefics3 models,
built from configs in the test with the shipped micro tokenizer (csr_eval.micro.families); and on LLaVA with
LLaVA-1.5's own tokenization (a Llama tokenizer adding BOS, the llava-hf template: conftest.llava_hf_layout) and
Qwen2.5-VL with Qwen's own template (conftest.qwen_layout).

For each: the cached search equals the uncached reference (tokens and scores), batched equals batch-1, and one
full csr-train iteration (search -> pairs -> TRL DPO with a LoRA on the language model only -> merge -> csr-eval
micro suite -> store) runs, and the merged checkpoint reloads with AutoModelForImageTextToText.
"""

from __future__ import annotations

import json

import pytest

from csr_eval.micro.families import FAMILIES, MicroFamilyConfig, build_micro_family
from csr_train.cli import main
from csr_train.config import SearchSettings
from csr_train.search import SentenceBeamSearch, SentenceRewarder

from .conftest import tiny_overrides
from .test_search import _assert_same_trees, _items

CONFIG = "configs/micro.yaml"


@pytest.fixture(scope="module", params=FAMILIES + ("llava_hf_layout", "qwen_layout"))
def family_model(request, tmp_path_factory):
    """(family, model folder, runner) for one tiny random-weight model, saved as a user's checkpoint is; and
    LLaVA laid out as llava-hf's LLaVA-1.5 (a Llama tokenizer adding BOS, the llava-hf chat template) and Qwen2.5-VL
    as Qwen2.5-VL-Instruct (its ChatML template with the system prompt, <|im_end|> ending the answer)."""
    from transformers import AutoTokenizer

    from csr_eval.micro.shipped import shipped_model
    from csr_eval.runner import ModelRunner

    if request.param in ("llava_hf_layout", "qwen_layout"):
        folder = request.getfixturevalue(request.param)
        return {"llava_hf_layout": "llava", "qwen_layout": "qwen2_5_vl"}[request.param], folder, ModelRunner.load(folder)
    tokenizer = AutoTokenizer.from_pretrained(shipped_model("micro-llava"))
    model, processor = build_micro_family(request.param, tokenizer, MicroFamilyConfig())
    folder = tmp_path_factory.mktemp(request.param) / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return request.param, folder, ModelRunner.load(folder)


def test_positions_agree_with_the_models_own(family_model, csr_world):
    """Left-padded prefill + one cached step with our positions give the logits the model computes with its own
    positions (Qwen2-VL family: get_rope_index from mm_token_type_ids) on each prompt alone, unpadded."""
    import torch

    from csr_eval.model_family import encode_prompts, processor_inputs

    _, _, runner = family_model
    model, processor = runner.model, runner.processor
    items = _items(csr_world, 3)
    images, texts = [it.image for it in items], [runner.prompt_text(it.prompt) for it in items]
    batch = encode_prompts(model, processor, images, texts)
    next_token = torch.full((len(items), 1), processor.tokenizer.convert_tokens_to_ids("."))
    with torch.inference_mode():
        prefill = model(**batch.forward_inputs(), use_cache=True)
        step = model(input_ids=next_token, attention_mask=torch.cat([batch.attention_mask, torch.ones_like(next_token)], 1),
                     position_ids=torch.tensor(batch.last_positions())[:, None] + 1, cache=prefill.cache, use_cache=True)
        for i, (image, text) in enumerate(zip(images, texts)):
            alone = processor_inputs(model, processor, [image], [text])
            alone["input_ids"] = torch.cat([alone["input_ids"], next_token[i:i + 1]], 1)
            alone["attention_mask"] = torch.cat([alone["attention_mask"], torch.ones_like(next_token[i:i + 1])], 1)
            if "mm_token_type_ids" in alone:
                alone["mm_token_type_ids"] = torch.cat([alone["mm_token_type_ids"], torch.zeros_like(next_token[i:i + 1])], 1)
            reference = model(**alone).logits[0]
            torch.testing.assert_close(prefill.logits[i, -1], reference[-2], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(step.logits[i, -1], reference[-1], atol=1e-4, rtol=1e-4)


def test_evaluation_sharing_each_image_answers_as_generate(family_model, csr_world):
    from csr_eval.io import load_rgb_image
    from csr_eval.runner import GenerationSettings, ModelRunner
    from csr_eval.shared_image_decoding import why_not_shareable

    _, _, runner = family_model
    assert why_not_shareable(runner.model) is None  # the shared path runs
    images = [load_rgb_image(p) for p in sorted((csr_world / "images" / "csr").glob("*.png"))[:2] for _ in range(3)]
    prompts = ["Is there a dog in the image?", "Describe the image.", "Is there a car?"] * 2
    settings = GenerationSettings(max_new_tokens=6)
    shared = runner.generate(images, prompts, settings)
    alone = ModelRunner(runner.model, runner.processor, batch_size=1, share_images=False)
    assert shared == alone.generate(images, prompts, settings)


def _search(runner, clip, use_cache=True, kv_layout="shared"):
    settings = SearchSettings(max_sentences=2, max_sentence_tokens=12, max_response_tokens=24, kv_layout=kv_layout)
    return SentenceBeamSearch(runner.model, runner.processor, settings, SentenceRewarder(clip, 0.9),
                              runner.prompt_text, use_cache=use_cache)


@pytest.mark.parametrize("kv_layout", ["shared", "copied"])
def test_cached_search_equals_the_uncached_reference(family_model, csr_world, micro_clip, kv_layout):
    _, _, runner = family_model
    items = _items(csr_world, 2)
    cached = _search(runner, micro_clip, kv_layout=kv_layout).search(items)
    recomputed = _search(runner, micro_clip, use_cache=False).search(items)
    _assert_same_trees(cached, recomputed)


def test_batched_search_equals_batch_one(family_model, csr_world, micro_clip):
    _, _, runner = family_model
    items = _items(csr_world, 3)  # prompts of different lengths: left padding differs per row
    together = _search(runner, micro_clip).search(items)
    one_by_one = [t for item in items for t in _search(runner, micro_clip).search([item])]
    _assert_same_trees(together, one_by_one)


def test_one_csr_iteration_and_the_merged_checkpoint_reloads(family_model, csr_world, tmp_path):
    from transformers import AutoModelForImageTextToText

    from csr_eval.model_family import language_model_name

    family, folder, _ = family_model
    run, db = tmp_path / "run", tmp_path / "results.db"
    code = main(["--config", CONFIG, "--run-dir", str(run), "--set", f"model.base={folder}",
                 *tiny_overrides(csr_world, **{"eval.suite": "micro", "eval.limit": 2, "eval.db": str(db),
                                               "dpo.lora_target": "auto", "search.max_sentence_tokens": 12})])
    assert code == 0
    state = json.loads((run / "csr_train_state.json").read_text())
    assert all(state["iterations"]["1"][s]["done"] for s in ("generate", "pairs", "dpo", "eval"))
    merged = AutoModelForImageTextToText.from_pretrained(run / "iter1" / "model")
    assert merged.config.model_type == family
    base = AutoModelForImageTextToText.from_pretrained(folder)
    changed = {name for name, p in merged.named_parameters()
               if not (p == dict(base.named_parameters())[name]).all()}
    language = language_model_name(merged)
    assert changed and all(name.startswith(language + ".") for name in changed)  # the LoRA touched only the LM
    from csr_eval.store import ResultsStore
    evaluations = ResultsStore(str(db)).evaluations(model=f"{run.name}/iter1")
    assert {e.benchmark for e in evaluations} >= {"micro_pope", "micro_chair"}


def test_qwen25_vl_config_runs_on_a_tiny_qwen(csr_world, tmp_path):
    """configs/qwen2.5-vl-7b.yaml's own training settings (LoRA r 128 on the language model, gradient
    checkpointing) on a tiny Qwen2.5-VL, CPU."""
    from transformers import AutoTokenizer

    from csr_eval.micro.shipped import shipped_model
    from csr_train.config import load_csr_config

    settings = load_csr_config("configs/qwen2.5-vl-7b.yaml")
    assert settings.model.base == "Qwen/Qwen2.5-VL-7B-Instruct" and settings.dpo.lora_target == "auto"
    model, processor = build_micro_family("qwen2_5_vl", AutoTokenizer.from_pretrained(shipped_model("micro-llava")))
    model.save_pretrained(tmp_path / "tiny")
    processor.save_pretrained(tmp_path / "tiny")
    run = tmp_path / "run"
    assert main(["--config", "configs/qwen2.5-vl-7b.yaml", "--run-dir", str(run), "--set", f"model.base={tmp_path / 'tiny'}",
                 "--set", "model.device=cpu", "--set", "model.dtype=float32", "--set", "dpo.bf16=false",
                 "--set", "reward.clip=micro-clip",
                 *tiny_overrides(csr_world, **{"search.max_sentences": 2, "search.max_sentence_tokens": 12}),
                 "--set", "reward.clean_tree=none"]) == 0  # random weights write junk the released cleaning drops
    state = json.loads((run / "csr_train_state.json").read_text())
    assert state["iterations"]["1"]["dpo"]["summary"]["trainable_parameters"] > 100_000  # r = 128 on 2 tiny layers
