"""The training method, chosen once from the config: what produces a prompt's candidates and how they become
preference pairs.

* :class:`SentenceSearch` — CSR (Algorithm 1 lines 4–13): the sentence-level beam search scored by the
  calibrated reward (``reward.kind`` calibrated; its Only-R_T / Only-R_I ablations, lm_only and image_only;
  the ground-truth ``oracle`` control in R_I's place), chosen = best and rejected = worst complete response
  (or, beyond the paper, sentence- or step-level pairs: ``reward.pairs``).
* :class:`SelfRewarding` — the self-rewarding baseline: sampled responses judged by the model itself.

``generate`` and ``curate_pairs`` (stages.py) ask the method; neither inspects the reward kind or the shape
of a stored record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from csr_train.config import CsrConfig
from csr_train.curation import tree_pairs
from csr_train.oracle import OracleJudge
from csr_train.reward import ClipRelevance
from csr_train.search import SearchTree, SentenceBeamSearch, SentenceRewarder
from csr_train.self_rewarding import SelfRewardingJudge, self_rewarding_pair


@dataclass
class SentenceSearch:
    config: CsrConfig

    def candidates(self, runner, t: int) -> Callable[[list], list[dict]]:
        """prompt items -> one search tree (as a dict) per prompt."""
        c = self.config
        if c.reward.kind == "oracle":
            clip, oracle = None, OracleJudge(c.data.annotations, c.reward.oracle_positions)
        else:
            clip, oracle = make_clip(c.reward.clip, c.model.device), None  # Only-R_T too: R_I is reported
        rewarder = SentenceRewarder(clip, c.reward.effective_lambda(), c.reward.redundancy_threshold, oracle,
                                    c.reward.presence_threshold)
        search = SentenceBeamSearch(runner.model, runner.processor, c.search, rewarder, runner.prompt_text,
                                    c.reward.aggregate)
        return lambda items: [tree.to_dict() for tree in search.search(items)]

    def pairs(self, record: dict, t: int) -> list[dict] | str:
        """§3.2.2 on one tree: the pair rows, or the reason there is none."""
        c = self.config
        return tree_pairs(SearchTree.from_dict(record), c.search.mode, c.reward.effective_lambda(), c.reward.aggregate,
                         c.reward.length_matched, t, c.reward.min_margin, c.reward.pairs,
                         clean_tree=c.reward.cleans_tree(c.search.mode), longer_chosen=c.reward.longer_chosen)


@dataclass
class SelfRewarding:
    config: CsrConfig

    def candidates(self, runner, t: int) -> Callable[[list], list[dict]]:
        c = self.config
        return SelfRewardingJudge(runner, c.reward.self_reward_temperature, c.search.max_response_tokens,
                                  c.seed * 1000 + t)

    def pairs(self, record: dict, t: int) -> list[dict] | str:
        pair = self_rewarding_pair(record, t)
        return pair if isinstance(pair, str) else [pair]


def method_for(config: CsrConfig) -> SentenceSearch | SelfRewarding:
    return SelfRewarding(config) if config.reward.kind == "self_rewarding" else SentenceSearch(config)


def make_clip(spec: str, device: str):
    return ClipRelevance.micro() if spec == "micro-clip" else ClipRelevance(spec, device)
