"""Preference curation (paper §3.2.2): the best and worst complete responses of a search tree.

``paper`` mode ranks complete responses by R(y), the aggregate (``mean`` by default, the paper's ``sum``
optionally) of the calibrated sentence rewards R(s) of Eq. 4. ``official`` mode reproduces the released
``score.py`` + ``construct.py``: within each set of siblings, R_T (the beam score) and R_I are turned into
normalised ranks (1/n is best), mixed as (1 − λ)·rank_LM + λ·rank_CLIP (λ = 0.9), summed along the path and
divided by the path length *counting the root* (n_sentences + 1); the lowest is chosen, the highest
rejected.

``length_matched`` (beyond the paper) draws chosen and rejected from the largest set of complete
responses with the same number of sentences, so that DPO cannot prefer an answer merely for being shorter.
``min_margin`` (beyond the paper, 0 = off) drops a pair whose R(chosen) − R(rejected) is below it: a small
margin means the judge barely tells the answers apart, and such pairs were mostly ones where neither answer
hallucinates (issue 14's diagnostics). The margin is in R(y)'s units, so a threshold belongs to one reward
kind and aggregate (with presence verdicts, 300 = one suspected hallucination in place of a confirmed
statement). A prompt yields no pair when no complete response exists, chosen and rejected are the same text
or the margin is too small; the reason is returned so the loop can count it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from csr_train.reward import response_reward
from csr_train.search import SearchTree, SentenceNode


@dataclass
class Candidate:
    sentences: list[SentenceNode]
    score: float  # higher is better in both modes

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


def sibling_ranks(tree: SearchTree, key: str) -> dict[int, float]:
    """The released ``Rank_Node.calculate_ranks``: rank/len among the children of the same parent (1/n best)."""
    ranks: dict[int, float] = {}
    by_parent: dict[int, list[SentenceNode]] = {}
    for node in tree.nodes:
        by_parent.setdefault(node.parent, []).append(node)
    for siblings in by_parent.values():
        ordered = sorted(siblings, key=lambda n: -getattr(n, key))
        for index, node in enumerate(ordered):
            ranks[node.node_id] = (index + 1) / len(siblings)
    return ranks


def official_path_score(path: list[SentenceNode], rank_lm: dict[int, float], rank_clip: dict[int, float],
                        lam: float) -> float:
    """construct.py: Σ((1−λ)·rank_LM + λ·rank_CLIP) / (len(path) + 1); lower is better."""
    total = sum((1 - lam) * rank_lm[n.node_id] + lam * rank_clip[n.node_id] for n in path)
    return total / (len(path) + 1)


def complete_responses(tree: SearchTree, mode: str, lam: float, aggregate: str) -> list[Candidate]:
    ends = [n for n in tree.nodes if n.complete]
    if mode == "official":
        rank_lm, rank_clip = sibling_ranks(tree, "lm_score"), sibling_ranks(tree, "r_i")
        return [Candidate(p, -official_path_score(p, rank_lm, rank_clip, lam))
                for p in (tree.path(n.node_id) for n in ends)]
    return [Candidate(p, response_reward([s.reward for s in p], aggregate))
            for p in (tree.path(n.node_id) for n in ends)]


def choose_pair(candidates: list[Candidate], length_matched: bool = False,
                min_margin: float = 0.0) -> tuple[Candidate, Candidate] | str:
    """(chosen, rejected), or the reason there is none. Ties keep tree order (deterministic)."""
    if not candidates:
        return "no_complete_response"
    if length_matched:
        counts = Counter(len(c.sentences) for c in candidates)
        size, n = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))
        if n < 2:
            return "no_length_matched_pair"
        candidates = [c for c in candidates if len(c.sentences) == size]
    ordered = sorted(candidates, key=lambda c: -c.score)
    chosen, rejected = ordered[0], ordered[-1]
    if chosen.text == rejected.text:
        return "chosen_equals_rejected"
    if chosen.score - rejected.score < min_margin:
        return "margin_below_min"
    return chosen, rejected


def _sentences(candidate: Candidate) -> list[dict]:
    return [{"text": s.text, "r_t": s.r_t, "r_i": s.r_i, "r": s.reward, "lm_score": s.lm_score, "end_prob": s.end_prob}
            for s in candidate.sentences]


def pair_row(tree: SearchTree, chosen: Candidate, rejected: Candidate, iteration: int, n_candidates: int) -> dict:
    """One row of the preference dataset: what DPO needs plus every number that chose the pair."""
    return {"prompt_id": tree.prompt_id, "image": tree.image, "prompt": tree.prompt, "iteration": iteration,
            "chosen": chosen.text, "rejected": rejected.text,
            "chosen_sentences": _sentences(chosen), "rejected_sentences": _sentences(rejected),
            "chosen_reward": chosen.score, "rejected_reward": rejected.score,
            "margin": chosen.score - rejected.score, "n_candidates": n_candidates}


def tree_pair(tree: SearchTree, mode: str, lam: float, aggregate: str, length_matched: bool,
              iteration: int, min_margin: float = 0.0) -> dict | str:
    """The pair row of one search tree, or the reason there is none."""
    candidates = complete_responses(tree, mode, lam, aggregate)
    pair = choose_pair(candidates, length_matched, min_margin)
    return pair if isinstance(pair, str) else pair_row(tree, *pair, iteration=iteration, n_candidates=len(candidates))


def curate(trees: list[SearchTree], mode: str, lam: float, aggregate: str, length_matched: bool,
           iteration: int, min_margin: float = 0.0) -> tuple[list[dict], Counter]:
    rows, skipped = [], Counter()
    for tree in trees:
        pair = tree_pair(tree, mode, lam, aggregate, length_matched, iteration, min_margin)
        if isinstance(pair, str):
            skipped[pair] += 1
        else:
            rows.append(pair)
    return rows, skipped
