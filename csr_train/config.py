"""Settings of ``csr-train`` (YAML files in ``configs/``; ``--set key=value`` overrides).

Defaults are the paper's (§3, Appendix A.1.1) where it gives them; where the released code differs, the
field's comment says so and the ``official`` search mode reproduces the released behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from csr_eval.config import load_config
from csr_eval.errors import InputError
from csr_eval.runner import CONVERSATION_FORMATS, DTYPES
from csr_train.reward import AGGREGATES

SEARCH_MODES = ("paper", "official")
KV_LAYOUTS = ("shared", "copied")
REWARDS = ("calibrated", "lm_only", "clip_only", "self_rewarding", "oracle")
PAIR_UNITS = ("responses", "sentences", "steps")
CLEAN_TREE = ("auto", "released", "none")
LONGER_CHOSEN = ("keep", "drop", "rematch")


@dataclass
class ModelSettings:
    base: str = "micro-llava"  # a folder, a hub id, or a shipped micro model name
    device: str = "cpu"
    dtype: str = "float32"
    trust_remote_code: bool = False
    # LLaVA-1.5's own image preprocessing (pad to a square with the mean colour; llava-hf's processor crops) in the
    # search, DPO and the evaluation; the released code trains with it (csr_eval.runner.pad_images_to_square)
    pad_to_square: bool = False


@dataclass
class DataSettings:
    # LLaVA-Instruct-format prompt file (CSR's own prompt set has the same shape) and its image folder.
    prompts: str = "data/micro-world-csr/llava_instruct_150k.json"
    images: str = "data/micro-world-csr/images/csr"
    prompts_per_iteration: int = 0  # 0 = all; otherwise a seeded sample, new for every iteration
    # Optional COCO instances file of the prompt images: pair quality (chosen vs rejected CHAIR) is reported.
    annotations: str = ""
    # Built on first use with `csr-eval micro build` when the prompt file is missing and this is set.
    micro_world: str = "data/micro-world-csr"
    micro_world_size: int = 600


@dataclass
class SearchSettings:
    mode: str = "paper"  # paper | official (the released sample.py + score.py + construct.py)
    num_beams: int = 5  # sentence-level width
    token_beams: int = 5
    beam_groups: int = 5
    diversity_penalty: float = 3.0
    max_sentence_tokens: int = 74  # the paper; the released code used 70
    max_response_tokens: int = 512
    max_sentences: int = 16
    keep_top: int = -1  # -1: the mode's default (paper 2, official 1)
    keep_bottom: int = -1  # -1: the mode's default (paper 2, official 2)
    # tokens that close a sentence; each also with the line breaks after it where the vocabulary has such a token
    sentence_end: list[str] = field(default_factory=lambda: ["."])
    # Beyond the paper, 0 = off: a response may end after a sentence only where the model's own probability of
    # EOS reaches this. Off, any EOS hypothesis ends it, and the Hamming penalty pushes later groups onto EOS even
    # where the model would go on: truncations it would not write become candidates (docs/micro-evidence.md).
    min_end_prob: float = 0.0
    prompts_per_batch: int = 8
    # shared: each prompt's image + prompt KV stored once and each sentence's once per tree node, token beams
    # holding only their new tokens (csr_eval.cascade); copied: every beam holds a copy of its whole context
    # (the layout before; for a model whose attention layers do not go through transformers' AttentionInterface)
    kv_layout: str = "shared"

    def keep(self) -> tuple[int, int]:
        default = (self.num_beams // 2, self.num_beams // 2) if self.mode == "paper" else \
            (self.num_beams // 2 - 1, self.num_beams // 2)
        return (default[0] if self.keep_top < 0 else self.keep_top,
                default[1] if self.keep_bottom < 0 else self.keep_bottom)


@dataclass
class RewardSettings:
    # calibrated | lm_only (Only-R_T) | clip_only (Only-R_I) | self_rewarding | oracle (beyond the paper: a
    # ground-truth judge in R_I's place, from data.annotations; the control of csr_train/oracle.py)
    kind: str = "calibrated"
    lam: float = 0.9  # λ of Eq. 4 (official mode: the weight of the CLIP rank)
    clip: str = "hf:openai/clip-vit-large-patch14-336"  # or open_clip:<name>@<pretrained>, or micro-clip
    aggregate: str = "mean"  # mean (released code) | sum (the paper's R(y)); see docs/training.md
    length_matched: bool = False  # chosen and rejected with the same number of sentences (beyond the paper)
    # Beyond the paper, keep = off: what to do when the best response has more sentences than the worst. drop: no
    # pair; rematch: the rejected one is the worst response at least as long as the chosen (csr_train.curation)
    longer_chosen: str = "keep"
    # responses (§3.2.2): the best and worst complete answers | sentences (beyond the paper): two sibling sentences
    # after one shared prefix, neither ending the answer, so a pair cannot be won by stopping | steps (beyond the
    # paper): at every prefix, the best and worst next step, the end of the answer among them (csr_train.curation)
    pairs: str = "responses"
    # Beyond the paper, 0 = off: drop a pair whose R(chosen) - R(rejected) is below this (R(y)'s units, so a
    # value belongs to one reward kind and aggregate; see csr_train.curation).
    min_margin: float = 0.0
    # released: the released score.py's tree cleaning before pairs are curated (junk scripts, repetitions, > 5 line
    # breaks, < 4 characters; csr_train.tree_filters) | none | auto: released in search.mode official, else none
    clean_tree: str = "auto"
    # Beyond the paper, 0 = off: R_I = 0 for a sentence whose CLIP text embedding has cosine >= this with an
    # earlier sentence of the response (a repetition adds no visual evidence; R_I cannot see positions).
    redundancy_threshold: float = 0.0
    self_reward_temperature: float = 0.7  # self_rewarding: the two sampled responses
    oracle_positions: bool = False  # oracle: a present object stated at a wrong grid cell counts as absent
    # Beyond the paper, 0 = off: R_I enters Eq. 4 as a presence verdict (+100 if R_I >= this, else -200;
    # -50 for a repetition under redundancy_threshold); see csr_train.reward.presence_verdict.
    presence_threshold: float = 0.0

    def effective_lambda(self) -> float:
        return {"lm_only": 0.0, "clip_only": 1.0}.get(self.kind, self.lam)

    def cleans_tree(self, search_mode: str) -> bool:
        return self.clean_tree == "released" or (self.clean_tree == "auto" and search_mode == "official")


@dataclass
class DpoSettings:
    # The paper's 0.1. The DPO term's gradient scales with it and the SFT term's does not: 0 (with sft_weight > 0)
    # fine-tunes on the judge's chosen answers alone, beyond the paper (docs/training.md)
    beta: float = 0.1
    learning_rate: float = 1e-7
    epochs: float = 1.0
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    full_finetune: bool = False
    lora_r: int = 128
    lora_alpha: int = 256
    lora_dropout: float = 0.05
    # "auto": the attention and MLP projections of the language model only, wherever the family keeps it
    # (csr_eval.model_family.language_model_lora_target); otherwise a peft target_modules regex
    lora_target: str = "auto"
    train_projector: bool = False
    save_steps: int = 100
    bf16: bool = False
    # Beyond the paper, 0 = off: add TRL's "sft" loss (NLL of the chosen answer) with this weight to the DPO
    # loss (RPO; TRL's rpo_alpha became loss_type=["sigmoid", "sft"]). Keeps the chosen answers likely.
    sft_weight: float = 0.0
    # Beyond the paper, None = off: LD-DPO (TRL's ld_alpha): the log-probability of the tokens beyond the shorter
    # answer's length counts this much in the DPO term (1 = plain DPO, 0 = only the shared length counts)
    ld_alpha: float | None = None
    # true = the paper's (and LLaVA's training): a rejected answer ends with EOS in the DPO data, as the chosen one
    # does. Beyond the paper, false: its closing EOS is left out, so the DPO term pushes down what the rejected
    # answer says, not that it stops there (docs/training.md). Whole-answer pairs only: a step pair whose rejected
    # step is the end (EOS alone) keeps it
    rejected_eos: bool = True
    gradient_checkpointing: bool = False  # the released script's name; passed as transformers' activation_checkpointing
    max_steps: int = -1


@dataclass
class EvalSettings:
    suite: str = "hallucination"  # evaluated after each iteration (and the base before the first); "" = none
    db: str = "results/csr.db"
    batch_size: int = 16
    limit: int = 0  # 0 = every sample; otherwise the first n of each benchmark (smoke runs)
    data_config: str = "configs/data.yaml"


@dataclass
class CsrConfig:
    name: str = "csr"
    seed: int = 0
    iterations: int = 3
    runs_dir: str = "runs"
    conversation: str = "chat_template"  # or vicuna_v1: the search, the DPO data and the evaluation ask with it
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    reward: RewardSettings = field(default_factory=RewardSettings)
    dpo: DpoSettings = field(default_factory=DpoSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def asked(self) -> dict:
        """How the run asks its models (csr_run.json's ``asked``: csr-eval's defaults for them)."""
        return {"conversation": self.conversation, "pad_to_square": self.model.pad_to_square,
                "dtype": self.model.dtype}

    def validate(self, source: str | Path | None = None) -> "CsrConfig":
        def choice(where: str, value, allowed):
            if value not in allowed:
                raise InputError(source, f"field {where!r}: expected one of {', '.join(map(str, allowed))}, "
                                         f"got {value!r}")

        def at_least(where: str, value, low):
            if value < low:
                raise InputError(source, f"field {where!r}: expected a value >= {low}, got {value!r}")

        choice("search.mode", self.search.mode, SEARCH_MODES)
        choice("search.kv_layout", self.search.kv_layout, KV_LAYOUTS)
        choice("reward.kind", self.reward.kind, REWARDS)
        choice("reward.aggregate", self.reward.aggregate, AGGREGATES)
        choice("reward.pairs", self.reward.pairs, PAIR_UNITS)
        choice("reward.clean_tree", self.reward.clean_tree, CLEAN_TREE)
        choice("reward.longer_chosen", self.reward.longer_chosen, LONGER_CHOSEN)
        if self.reward.clip != "micro-clip" and not self.reward.clip.startswith(("hf:", "open_clip:")):
            raise InputError(source, f"field 'reward.clip': expected hf:<model id>, open_clip:<name>@<pretrained> or "
                                     f"micro-clip, got {self.reward.clip!r}")
        length_rule = self.reward.length_matched or self.reward.longer_chosen != "keep"
        if self.reward.pairs != "responses" and (length_rule or self.reward.kind == "self_rewarding"):
            raise InputError(source, f"field 'reward.pairs': {self.reward.pairs} pairs come from the sentence "
                                     "search's trees and have no length to match; set reward.length_matched false, "
                                     "reward.longer_chosen keep and a search reward")
        if self.reward.kind == "self_rewarding" and length_rule:
            raise InputError(source, "field 'reward.kind': self_rewarding pairs two sampled answers, not the search's "
                                     "responses; reward.length_matched and reward.longer_chosen do not apply")
        choice("conversation", self.conversation, CONVERSATION_FORMATS)
        choice("model.dtype", self.model.dtype, DTYPES)
        at_least("iterations", self.iterations, 1)
        for name in ("num_beams", "token_beams", "beam_groups", "max_sentence_tokens", "max_response_tokens",
                     "max_sentences", "prompts_per_batch"):
            at_least(f"search.{name}", getattr(self.search, name), 1)
        if self.search.token_beams % self.search.beam_groups:
            raise InputError(source, f"field 'search.token_beams': must be a multiple of search.beam_groups "
                                     f"({self.search.beam_groups}), got {self.search.token_beams}")
        at_least("search.diversity_penalty", self.search.diversity_penalty, 0.0)
        if not 0.0 <= self.search.min_end_prob <= 1.0:
            raise InputError(source, f"field 'search.min_end_prob': expected a probability in [0, 1] (0 = off), "
                                     f"got {self.search.min_end_prob}")
        if not 0.0 <= self.reward.lam <= 1.0:
            raise InputError(source, f"field 'reward.lam': expected a value in [0, 1], got {self.reward.lam}")
        if not 0.0 <= self.reward.redundancy_threshold <= 1.0:
            raise InputError(source, f"field 'reward.redundancy_threshold': expected a value in [0, 1] (0 = off), "
                                     f"got {self.reward.redundancy_threshold}")
        if self.reward.kind == "oracle" and not self.data.annotations:
            raise InputError(source, "field 'data.annotations': reward.kind oracle needs the prompt images' COCO "
                                     "instances annotations (the micro-world writes them)")
        if not 0.0 <= self.reward.presence_threshold <= 100.0:
            raise InputError(source, f"field 'reward.presence_threshold': expected R_I points in [0, 100] (0 = off), "
                                     f"got {self.reward.presence_threshold}")
        at_least("data.prompts_per_iteration", self.data.prompts_per_iteration, 0)
        at_least("reward.min_margin", self.reward.min_margin, 0.0)
        at_least("dpo.beta", self.dpo.beta, 0.0)
        if self.dpo.beta == 0 and self.dpo.sft_weight <= 0:  # the DPO term's gradient is beta times its own
            raise InputError(source, "field 'dpo.beta': 0 leaves the DPO term without a gradient, and dpo.sft_weight "
                                     "is 0 too, so nothing would be learned; give beta > 0 (the paper: 0.1), or "
                                     "sft_weight > 0 to fine-tune on the chosen answers alone")
        if not 0.0 <= self.dpo.warmup_ratio < 1.0:  # transformers 5 reads warmup_steps < 1 as a ratio, >= 1 as steps
            raise InputError(source, f"field 'dpo.warmup_ratio': expected a share of the steps in [0, 1), "
                                     f"got {self.dpo.warmup_ratio!r}")
        at_least("dpo.batch_size", self.dpo.batch_size, 1)
        if self.dpo.ld_alpha is not None and not 0.0 <= self.dpo.ld_alpha <= 1.0:
            raise InputError(source, f"field 'dpo.ld_alpha': expected a weight in [0, 1] (or null = off), "
                                     f"got {self.dpo.ld_alpha!r}")
        return self


def load_csr_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> CsrConfig:
    return load_config(CsrConfig, path, overrides).validate(path)
