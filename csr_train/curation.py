"""Preference curation (paper §3.2.2): the best and worst complete responses of a search tree.

``paper`` mode ranks complete responses by R(y), the aggregate (``mean`` by default, the paper's ``sum``
optionally) of the calibrated sentence rewards R(s) of Eq. 4. ``official`` mode reproduces the released
``score.py`` + ``construct.py``: within each set of siblings, R_T (the beam score) and R_I are turned into
normalised ranks (1/n is best), mixed as (1 − λ)·rank_LM + λ·rank_CLIP (λ = 0.9), summed along the path and
divided by the path length *counting the root* (n_sentences + 1); the lowest is chosen, the highest
rejected.

``length_matched`` (beyond the paper) draws chosen and rejected from the largest set of complete
responses with the same number of sentences, so that DPO cannot prefer an answer merely for being shorter.
``longer_chosen`` (beyond the paper, ``keep`` = off) acts when the best response has more sentences than the
worst: ``drop`` makes no pair, ``rematch`` takes as rejected the worst response at least as long as the chosen.
Why: a pair whose chosen answer is longer teaches "say more" as well as "say it right"; on the micro-world
such pairs alone raised CHAIR_S from 8.0 to 36.0 at iteration 3, even where the chosen answer was clean
(docs/micro-evidence.md).
``pairs: sentences`` (beyond the paper) contrasts two sibling sentences after one shared prefix instead of
two complete answers: the search may end an answer wherever a Hamming-penalised group lands on EOS, and on
the micro-Qwen the chosen answers ended where the model would go on, so DPO taught stopping
(docs/micro-evidence.md). A sentence pair holds no end, so it can only teach which sentence to write next.
``pairs: steps`` (beyond the paper) takes a pair at every prefix and lets the end of the answer compete as a
step, so that "stop here" is weighed against the sentences that could follow.
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

from csr_train.reward import calibrated_reward, response_reward
from csr_train.search import SearchTree, SentenceNode, answer_text, line_breaks
from csr_train.tree_filters import cleaned_tree


@dataclass
class Candidate:
    sentences: list[SentenceNode]
    score: float  # higher is better in both modes

    @property
    def text(self) -> str:
        return answer_text(self.sentences)


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


def choose_pair(candidates: list[Candidate], length_matched: bool = False, min_margin: float = 0.0,
                longer_chosen: str = "keep") -> tuple[Candidate, Candidate] | str:
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
    chosen = ordered[0]
    if longer_chosen == "rematch":
        ordered = [c for c in ordered if len(c.sentences) >= len(chosen.sentences)]
        if len(ordered) == 1:
            return "no_rejected_as_long"
    rejected = ordered[-1]
    if chosen.text == rejected.text:
        return "chosen_equals_rejected"
    if chosen.score - rejected.score < min_margin:
        return "margin_below_min"
    if longer_chosen == "drop" and len(chosen.sentences) > len(rejected.sentences):
        return "chosen_longer"
    return chosen, rejected


def _sentences(sentences: list[SentenceNode], ends: bool = True) -> list[dict]:
    """The sentences' numbers; ``ends`` False: the pair's text does not end the answer, so no P(EOS) there."""
    return [{"text": s.text, "r_t": s.r_t, "r_i": s.r_i, "r": s.reward, "lm_score": s.lm_score,
             "end_prob": s.end_prob if ends else None} for s in sentences]


def pair_row(tree: SearchTree, chosen: Candidate, rejected: Candidate, iteration: int, n_candidates: int) -> dict:
    """One row of the preference dataset: what DPO needs plus every number that chose the pair."""
    return {"prompt_id": tree.prompt_id, "image": tree.image, "prompt": tree.prompt, "iteration": iteration,
            "chosen": chosen.text, "rejected": rejected.text,
            "chosen_sentences": _sentences(chosen.sentences), "rejected_sentences": _sentences(rejected.sentences),
            "chosen_reward": chosen.score, "rejected_reward": rejected.score,
            "margin": chosen.score - rejected.score, "n_candidates": n_candidates}


@dataclass
class Step:
    """What may follow a prefix: an open sentence, or (``node`` None) the end of the answer."""
    node: SentenceNode | None
    reward: float

    @property
    def text(self) -> str:
        return self.node.text if self.node else ""

    @property
    def written(self) -> str:
        """The sentence with the line breaks its tokens write around it (a paragraph's last sentence: after it)."""
        return line_breaks(self.node.lead) + self.node.text + line_breaks(self.node.tail) if self.node else ""


def next_steps(tree: SearchTree, lam: float, with_end: bool) -> dict[int, list[Step]]:
    """Per prefix (-1: the empty answer), its competing next steps in tree order: the sentences closed by a
    sentence end (``stop`` period) that leave the answer open — one cut by a length limit is not a sentence the
    model chose to write, one that ends the answer (EOS, the last allowed sentence) would teach where answers
    end — and, ``with_end``, the end itself where the search let the answer end there, scored by Eq. 4 as a
    sentence with no image evidence (R_I 0) and the model's P(EOS) as R_T (Eq. 2 of a one-token sentence)."""
    steps: dict[int, list[Step]] = {}
    for node in tree.nodes:
        if node.stop == "period":
            steps.setdefault(node.parent, []).append(Step(node, node.reward))
    if with_end:
        for node in tree.nodes:
            if node.can_end and not node.ends_response and node.end_prob is not None:
                steps.setdefault(node.node_id, []).append(Step(None, calibrated_reward(0.0, node.end_prob, lam)))
    return steps


@dataclass
class StepPair:
    """Two next steps of one prefix (``prefix`` -1: the empty answer)."""
    prefix: int
    depth: int  # of the prefix's last sentence (0: the empty answer)
    chosen: Step
    rejected: Step

    @property
    def margin(self) -> float:
        return self.chosen.reward - self.rejected.reward


def choose_next_steps(tree: SearchTree, lam: float, min_margin: float, every_prefix: bool,
                      with_end: bool) -> list[StepPair] | str:
    """Of a prefix's next steps, the best and the worst by R(s) (Eq. 4): at the prefix where they differ most
    (ties: the shallowest, then tree order), or at ``every_prefix``; or the reason there is none.
    ``min_margin`` is in R(s)'s units here."""
    options = []
    for parent, steps in next_steps(tree, lam, with_end).items():
        ordered = sorted(steps, key=lambda step: -step.reward)  # stable: tree order among equal rewards
        if ordered[0].text != ordered[-1].text:
            depth = tree.nodes[parent].depth if parent >= 0 else 0
            options.append(StepPair(parent, depth, ordered[0], ordered[-1]))
    if not options:
        return "no_sibling_sentences"
    if not every_prefix:
        options = [max(options, key=lambda pair: (pair.margin, -pair.depth))]  # max keeps the first of equals
    chosen = [pair for pair in options if pair.margin >= min_margin]
    return chosen or "margin_below_min"


def _step_sentences(step: Step) -> list[dict]:
    return _sentences([step.node] if step.node else [], ends=False)


def sentence_pair_row(tree: SearchTree, pair: StepPair, iteration: int) -> dict:
    """A pair row whose ``prefix`` (the shared answer so far) precedes chosen and rejected; an empty chosen or
    rejected is the end of the answer (DPO's completion is then EOS alone), a sentence leaves the answer open.
    Line breaks stay where the model's tokens wrote them: at the prefix's end, around the sentence."""
    prefix = tree.path(pair.prefix) if pair.prefix >= 0 else []
    return {"prompt_id": tree.prompt_id, "image": tree.image, "prompt": tree.prompt, "iteration": iteration,
            "prefix": answer_text(prefix) + (line_breaks(prefix[-1].tail) if prefix else ""),
            "chosen": pair.chosen.written, "rejected": pair.rejected.written,
            "chosen_sentences": _step_sentences(pair.chosen), "rejected_sentences": _step_sentences(pair.rejected),
            "chosen_reward": pair.chosen.reward, "rejected_reward": pair.rejected.reward, "margin": pair.margin,
            "n_candidates": len(tree.children(pair.prefix))}


def tree_pairs(tree: SearchTree, mode: str, lam: float, aggregate: str, length_matched: bool,
               iteration: int, min_margin: float = 0.0, pairs: str = "responses",
               clean_tree: bool = False, longer_chosen: str = "keep") -> list[dict] | str:
    """The pair rows of one search tree (one, but for ``pairs: steps``), or the reason there is none;
    ``clean_tree``: only from what the released tree cleaning keeps (:mod:`csr_train.tree_filters`)."""
    searched, tree = tree, cleaned_tree(tree) if clean_tree else tree
    if pairs in ("sentences", "steps"):
        chosen = choose_next_steps(tree, lam, min_margin, every_prefix=pairs == "steps", with_end=pairs == "steps")
        return chosen if isinstance(chosen, str) else [sentence_pair_row(tree, pair, iteration) for pair in chosen]
    candidates = complete_responses(tree, mode, lam, aggregate)
    if not candidates and clean_tree and any(n.complete for n in searched.nodes):
        return "cleaned_away"  # every complete answer holds a sentence the released cleaning drops
    pair = choose_pair(candidates, length_matched, min_margin, longer_chosen)
    return pair if isinstance(pair, str) else [pair_row(tree, *pair, iteration=iteration,
                                                        n_candidates=len(candidates))]


def curate(trees: list[SearchTree], mode: str, lam: float, aggregate: str, length_matched: bool,
           iteration: int, min_margin: float = 0.0, pairs: str = "responses",
           clean_tree: bool = False, longer_chosen: str = "keep") -> tuple[list[dict], Counter]:
    rows, skipped = [], Counter()
    for tree in trees:
        found = tree_pairs(tree, mode, lam, aggregate, length_matched, iteration, min_margin, pairs, clean_tree,
                           longer_chosen)
        if isinstance(found, str):
            skipped[found] += 1
        else:
            rows.extend(found)
    return rows, skipped
