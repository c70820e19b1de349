"""DPO with TRL + LoRA on the micro-LLaVA: a step changes only the adapter; the merge is a full model."""

from __future__ import annotations

import pytest
import torch

from csr_train.config import DpoSettings
from csr_train.dpo import build_trainer


def _rows(world):
    from csr_train.prompts import load_prompts
    prompts = load_prompts(world / "llava_instruct_150k.json")[:2]
    return [{"image": p.image, "prompt": p.text, "chosen": "There is a cup at the top.",
             "rejected": "There is a dog at the top. A car is in the center."} for p in prompts]


def test_a_dpo_step_changes_only_the_adapter(csr_world, tmp_path):
    from csr_eval.micro.shipped import shipped_model
    settings = DpoSettings(learning_rate=1e-2, warmup_ratio=0.0, scheduler="constant", batch_size=2, max_steps=1,
                           lora_r=4, lora_alpha=8, lora_dropout=0.0,
                           lora_target=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)", save_steps=100)
    trainer, _ = build_trainer(str(shipped_model("micro-llava")), _rows(csr_world), csr_world / "images" / "csr",
                               settings, tmp_path, seed=0)
    model = trainer.model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)
    assert not any("vision_tower" in n for n in trainable)
    trainer.train()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed and changed <= trainable
    assert any("lora_B" in n for n in changed)  # B starts at zero: the adapter now does something
    assert trainer.state.log_history[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # policy = reference at step 1


def test_projector_is_trainable_on_request(csr_world, tmp_path):
    from csr_eval.micro.shipped import shipped_model
    settings = DpoSettings(batch_size=2, max_steps=1, lora_r=4, lora_alpha=8, train_projector=True,
                           lora_target=r".*language_model.*\.(q_proj|v_proj)")
    trainer, _ = build_trainer(str(shipped_model("micro-llava")), _rows(csr_world), csr_world / "images" / "csr",
                               settings, tmp_path, seed=0)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert any("multi_modal_projector" in n for n in trainable)
    assert not any("vision_tower" in n for n in trainable)


def test_full_finetune_trains_the_language_model_only(csr_world, tmp_path):
    from csr_eval.micro.shipped import shipped_model
    settings = DpoSettings(batch_size=2, max_steps=1, full_finetune=True)
    trainer, _ = build_trainer(str(shipped_model("micro-llava")), _rows(csr_world), csr_world / "images" / "csr",
                               settings, tmp_path, seed=0)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and not any("lora_" in n for n in trainable)
    assert not any("vision_tower" in n or "multi_modal_projector" in n for n in trainable)
    assert trainer.ref_model is not None  # a frozen copy is the reference when there is no adapter to disable


def test_sft_weight_adds_the_chosen_nll_to_the_dpo_loss(csr_world, tmp_path):
    """At step 1 policy = reference, so the DPO term is ln 2 and the loss exceeds it by w · NLL(chosen)."""
    from csr_eval.micro.shipped import shipped_model
    common = dict(warmup_ratio=0.0, scheduler="constant", batch_size=2, max_steps=1, lora_r=4, lora_alpha=8,
                  lora_target=r".*language_model.*\.(q_proj|v_proj)", save_steps=100)
    losses = {}
    for weight in (0.0, 1.0, 2.0):
        trainer, _ = build_trainer(str(shipped_model("micro-llava")), _rows(csr_world), csr_world / "images" / "csr",
                                   DpoSettings(sft_weight=weight, **common), tmp_path / str(weight), seed=0)
        assert trainer.args.loss_type == (["sigmoid", "sft"] if weight else ["sigmoid"])
        trainer.train()
        losses[weight] = trainer.state.log_history[0]["loss"]
    assert losses[0.0] == pytest.approx(0.6931, abs=1e-3)
    nll = losses[1.0] - losses[0.0]
    assert nll > 0.1 and losses[2.0] - losses[0.0] == pytest.approx(2 * nll, rel=1e-3)


def test_ld_alpha_reaches_trls_length_desensitised_loss(csr_world, tmp_path):
    from csr_eval.micro.shipped import shipped_model
    settings = dict(batch_size=2, max_steps=1, lora_r=4, lora_alpha=8, save_steps=100,
                    lora_target=r".*language_model.*\.(q_proj|v_proj)")
    for alpha in (None, 0.5):
        trainer, _ = build_trainer(str(shipped_model("micro-llava")), _rows(csr_world), csr_world / "images" / "csr",
                                   DpoSettings(ld_alpha=alpha, **settings), tmp_path / str(alpha), seed=0)
        assert trainer.args.ld_alpha == alpha and trainer.ld_alpha == alpha  # None: plain DPO, as the paper


def test_step_pairs_train_the_searched_tokens_after_the_searched_prefix(csr_world, micro_runner, micro_clip, tmp_path):
    """``reward.pairs: sentences / steps``: what TRL trains on is, token for token, the search's own prefix and
    sentence, with no EOS after a sentence (it leaves the answer open); a step that ends the answer is EOS alone."""
    from PIL import Image

    from csr_eval.micro.shipped import shipped_model
    from csr_train.config import SearchSettings
    from csr_train.curation import choose_next_steps, sentence_pair_row
    from csr_train.prompts import load_prompts
    from csr_train.search import PromptItem, SentenceBeamSearch, SentenceRewarder

    prompts = load_prompts(csr_world / "llava_instruct_150k.json")[:4]
    items = [PromptItem(p.prompt_id, p.image, p.text,
                        Image.open(csr_world / "images" / "csr" / p.image).convert("RGB")) for p in prompts]
    search = SentenceBeamSearch(micro_runner.model, micro_runner.processor, SearchSettings(max_sentences=3),
                                SentenceRewarder(micro_clip, 0.9), micro_runner.prompt_text)
    picks = [(tree, pick) for tree in search.search(items)
             for pick in choose_next_steps(tree, 0.9, 0.0, every_prefix=True, with_end=True)]
    assert any(pick.prefix >= 0 for _, pick in picks)  # some pair continues an answer already begun
    assert any(step.node is None for _, pick in picks for step in (pick.chosen, pick.rejected))  # and some ends it
    rows = [sentence_pair_row(tree, pick, iteration=1) for tree, pick in picks]
    settings = DpoSettings(batch_size=4, max_steps=1, lora_r=4, lora_alpha=8,
                           lora_target=r".*language_model.*\.(q_proj|v_proj)")
    trainer, _ = build_trainer(str(shipped_model("micro-llava")), rows, csr_world / "images" / "csr", settings,
                               tmp_path, seed=0)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
    eos = micro_runner.processor.tokenizer.eos_token_id
    for i, (tree, pick) in enumerate(picks):
        prefix = [t for node in (tree.path(pick.prefix) if pick.prefix >= 0 else []) for t in node.token_ids]
        for j, step in ((i, pick.chosen), (i + len(rows), pick.rejected)):
            ids, mask = batch["input_ids"][j], batch["completion_mask"][j]
            assert ids[mask.bool()].tolist() == (step.node.token_ids if step.node else [eos])
            start = int(mask.nonzero()[0])
            prompt = ids[:start][batch["attention_mask"][j][:start].bool()].tolist()
            assert prompt[len(prompt) - len(prefix):] == prefix
    trainer.train()
    assert trainer.state.log_history[0]["loss"] == pytest.approx(0.6931, abs=1e-3)
