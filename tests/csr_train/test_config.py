"""Config validation of the fields whose wrong values would run silently: a clear error naming the field."""

from __future__ import annotations

import pytest

from csr_eval.errors import InputError
from csr_train.config import load_csr_config


def test_min_margin_must_not_be_negative():
    with pytest.raises(InputError, match="reward.min_margin"):
        load_csr_config("configs/micro.yaml", ["reward.min_margin=-1"])


@pytest.mark.parametrize("ratio", ["1.0", "-0.1"])
def test_warmup_ratio_is_a_share_of_the_steps(ratio):
    # transformers 5 reads warmup_steps >= 1 as a step count: 1.0 would silently mean "one step"
    with pytest.raises(InputError, match="dpo.warmup_ratio"):
        load_csr_config("configs/micro.yaml", [f"dpo.warmup_ratio={ratio}"])


@pytest.mark.parametrize("prob", ["1.5", "-0.1"])
def test_min_end_prob_is_a_probability(prob):
    with pytest.raises(InputError, match="search.min_end_prob"):
        load_csr_config("configs/micro.yaml", [f"search.min_end_prob={prob}"])


@pytest.mark.parametrize("extra", [["reward.pairs=sentence"], ["reward.pairs=sentences", "reward.length_matched=true"],
                                   ["reward.pairs=sentences", "reward.kind=self_rewarding"],
                                   ["reward.pairs=steps", "reward.longer_chosen=drop"]])
def test_pairs_are_responses_or_sentences_of_a_search(extra):
    with pytest.raises(InputError, match="reward.pairs"):
        load_csr_config("configs/micro.yaml", extra)
    assert load_csr_config("configs/micro.yaml", ["reward.pairs=sentences"]).reward.pairs == "sentences"


def test_longer_chosen_is_a_rule_for_the_searchs_responses():
    with pytest.raises(InputError, match="reward.longer_chosen"):
        load_csr_config("configs/micro.yaml", ["reward.longer_chosen=shorter"])
    with pytest.raises(InputError, match="reward.kind.*longer_chosen"):  # self-rewarding pairs would ignore it
        load_csr_config("configs/micro.yaml", ["reward.kind=self_rewarding", "reward.longer_chosen=drop"])
    assert load_csr_config("configs/micro.yaml", ["reward.longer_chosen=rematch"]).reward.longer_chosen == "rematch"


@pytest.mark.parametrize("alpha", ["1.5", "-0.1"])
def test_ld_alpha_is_a_weight(alpha):
    with pytest.raises(InputError, match="dpo.ld_alpha"):
        load_csr_config("configs/micro.yaml", [f"dpo.ld_alpha={alpha}"])


def test_beta_0_needs_the_sft_term():
    # beta 0: the sigmoid DPO loss is log 2 whatever the model does; with no SFT term the run would train nothing
    with pytest.raises(InputError, match="dpo.beta.*sft_weight"):
        load_csr_config("configs/micro.yaml", ["dpo.beta=0", "dpo.sft_weight=0"])
    settings = load_csr_config("configs/micro.yaml", ["dpo.beta=0"]).dpo  # the chosen answers' NLL alone
    assert (settings.beta, settings.sft_weight) == (0.0, 1.0)


def test_the_shipped_training_configs_are_valid():
    for name in ("micro", "micro-paper", "llava15-7b", "llava15-13b"):
        load_csr_config(f"configs/{name}.yaml")


def test_conversation_is_a_template_or_llavas_vicuna_v1():
    with pytest.raises(InputError, match="conversation"):
        load_csr_config("configs/micro.yaml", ["conversation=vicuna"])
    assert load_csr_config("configs/llava15-7b.yaml").conversation == "vicuna_v1"  # the released code's prompt


def test_clip_is_a_spec_csr_train_can_load():
    with pytest.raises(InputError, match="reward.clip.*'clip-vit'"):
        load_csr_config("configs/micro.yaml", ["reward.clip=clip-vit"])
    for spec in ("micro-clip", "hf:openai/clip-vit-large-patch14-336", "open_clip:ViT-B-32@openai"):
        assert load_csr_config("configs/micro.yaml", [f"reward.clip={spec}"]).reward.clip == spec
