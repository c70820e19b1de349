"""Pair curation: the released rank rule on a hand-built tree, the paper's rule, length matching and the
longer-chosen rule, skips."""

from __future__ import annotations

import pytest

from csr_train.curation import choose_pair, complete_responses, curate, official_path_score, sibling_ranks
from csr_train.search import SearchTree, SentenceNode


def node(node_id, parent, text, lm, r_i, reward=0.0, ends=False, can_end=False):
    depth = 1 if parent < 0 else 2
    return SentenceNode(node_id, parent, depth, text, [1], [lm], lm, "eos" if ends else "period", ends_response=ends,
                        can_end=can_end, r_i=r_i, r_t=0.0, reward=reward)


@pytest.fixture
def tree():
    #          root
    #     A        B(end)   C(end)
    #   D(end) E(end)
    return SearchTree("p", "img.png", "Describe.", [
        node(0, -1, "A.", -0.1, 30.0, reward=27.0), node(1, -1, "B.", -0.5, 50.0, reward=45.0, ends=True),
        node(2, -1, "C.", -0.9, 10.0, reward=9.0, ends=True),
        node(3, 0, "D.", -0.2, 40.0, reward=36.0, ends=True), node(4, 0, "E.", -0.3, 20.0, reward=18.0, ends=True)])


def test_sibling_ranks_are_rank_over_siblings(tree):
    lm, clip = sibling_ranks(tree, "lm_score"), sibling_ranks(tree, "r_i")
    assert lm == pytest.approx({0: 1 / 3, 1: 2 / 3, 2: 1.0, 3: 0.5, 4: 1.0})
    assert clip == pytest.approx({0: 2 / 3, 1: 1 / 3, 2: 1.0, 3: 0.5, 4: 1.0})


def test_official_rule_on_hand_computed_values(tree):
    lm, clip = sibling_ranks(tree, "lm_score"), sibling_ranks(tree, "r_i")
    # (0.1·rank_LM + 0.9·rank_CLIP) summed over the path, divided by len(path) + 1 (the root counts)
    assert official_path_score(tree.path(1), lm, clip, 0.9) == pytest.approx((0.1 * 2 / 3 + 0.9 / 3) / 2)
    assert official_path_score(tree.path(3), lm, clip, 0.9) == pytest.approx((0.1 / 3 + 0.6 + 0.5) / 3)
    assert official_path_score(tree.path(4), lm, clip, 0.9) == pytest.approx((0.1 / 3 + 0.6 + 1.0) / 3)
    chosen, rejected = choose_pair(complete_responses(tree, "official", 0.9, "mean"))
    assert (chosen.text, rejected.text) == ("B.", "A. E.")


def test_paper_rule_mean_and_sum(tree):
    chosen, rejected = choose_pair(complete_responses(tree, "paper", 0.9, "mean"))
    assert (chosen.text, rejected.text) == ("B.", "C.")  # means: B 45, A-D 31.5, A-E 22.5, C 9
    chosen, rejected = choose_pair(complete_responses(tree, "paper", 0.9, "sum"))
    assert (chosen.text, rejected.text) == ("A. D.", "C.")  # the sum prefers the longer A-D (63 > 45)


def test_length_matched_pairs_share_a_sentence_count(tree):
    chosen, rejected = choose_pair(complete_responses(tree, "paper", 0.9, "mean"), length_matched=True)
    assert len(chosen.sentences) == len(rejected.sentences)
    # two two-sentence and two one-sentence responses: the tie goes to the shorter length
    assert (chosen.text, rejected.text) == ("B.", "C.")


def test_a_longer_chosen_response_is_dropped_or_rematched(tree):
    # sum rule: A-D 63 (two sentences) over C 9 (one): the chosen answer is the longer one
    candidates = complete_responses(tree, "paper", 0.9, "sum")
    assert choose_pair(candidates, longer_chosen="drop") == "chosen_longer"
    chosen, rejected = choose_pair(candidates, longer_chosen="rematch")  # the worst of A-D 63, A-E 45
    assert (chosen.text, rejected.text) == ("A. D.", "A. E.")
    assert choose_pair(candidates, min_margin=20.0, longer_chosen="rematch") == "margin_below_min"  # 63 - 45 = 18
    longest = [c for c in candidates if c.text != "A. E."]  # A-D alone has two sentences
    assert choose_pair(longest, longer_chosen="rematch") == "no_rejected_as_long"
    # mean rule: B over C, one sentence each: no rule changes the pair
    candidates = complete_responses(tree, "paper", 0.9, "mean")
    for rule in ("keep", "drop", "rematch"):
        chosen, rejected = choose_pair(candidates, longer_chosen=rule)
        assert (chosen.text, rejected.text) == ("B.", "C.")
    rows, skipped = curate([tree], "paper", 0.9, "sum", False, iteration=1, longer_chosen="drop")
    assert rows == [] and skipped == {"chosen_longer": 1}


def test_prompts_without_a_pair_are_counted(tree):
    empty = SearchTree("q", "img.png", "Describe.", [node(0, -1, "A.", -0.1, 30.0)])  # nothing complete
    same = SearchTree("r", "img.png", "Describe.", [node(0, -1, "A.", -0.1, 30.0, ends=True)])
    rows, skipped = curate([tree, empty, same], "paper", 0.9, "mean", False, iteration=1)
    assert [r["prompt_id"] for r in rows] == ["p"]
    assert skipped == {"no_complete_response": 1, "chosen_equals_rejected": 1}


def test_pair_row_carries_every_number(tree):
    rows, _ = curate([tree], "paper", 0.9, "mean", False, iteration=2)
    row = rows[0]
    assert row["chosen"] == "B." and row["rejected"] == "C." and row["iteration"] == 2
    assert row["chosen_sentences"] == [{"text": "B.", "r_t": 0.0, "r_i": 50.0, "r": 45.0, "lm_score": -0.5,
                                     "end_prob": None}]
    assert row["margin"] == pytest.approx(36.0)
    assert row["n_candidates"] == 4


def test_a_response_may_end_where_an_eos_followed(tree):
    tree.nodes[0].can_end = True  # "A." followed by EOS alone is a complete response too
    texts = {c.text for c in complete_responses(tree, "paper", 0.9, "mean")}
    assert "A." in texts


def test_min_margin_drops_pairs_the_judge_barely_separates(tree):
    # mean rule: B 45 vs C 9, margin 36 — kept at 36, dropped above it (and counted with its reason)
    rows, skipped = curate([tree], "paper", 0.9, "mean", False, iteration=1, min_margin=36.0)
    assert [r["margin"] for r in rows] == [pytest.approx(36.0)] and not skipped
    rows, skipped = curate([tree], "paper", 0.9, "mean", False, iteration=1, min_margin=36.5)
    assert rows == [] and skipped == {"margin_below_min": 1}



def _open_tree():
    #             root
    #    A(27, may end: P(EOS) 0.5)   B(45, may end: P(EOS) 0.9)   C(9, cut by the sentence limit)   E(-90, EOS)
    #  F(36) G(-153) H(36)            I(-180)
    def sentence(node_id, parent, text, reward, stop="period", end_prob=None):
        n = node(node_id, parent, text, -0.1, 0.0, reward=reward)
        n.stop, n.ends_response = stop, stop == "eos"
        n.end_prob, n.can_end = end_prob, end_prob is not None
        return n
    return SearchTree("p", "img.png", "Describe.", [
        sentence(0, -1, "A.", 27.0, end_prob=0.5), sentence(1, -1, "B.", 45.0, end_prob=0.9),
        sentence(2, -1, "C", 9.0, "max_sentence_tokens"), sentence(3, -1, "E", -90.0, "eos"),
        sentence(4, 0, "F.", 36.0), sentence(5, 0, "G.", -153.0), sentence(6, 0, "H.", 36.0),
        sentence(7, 1, "I.", -180.0)])


def test_sentence_pairs_contrast_siblings_that_leave_the_answer_open():
    """``pairs: sentences``: after "A." the gap F - G is 189, larger than B - A's 18 among the first sentences
    (C, cut by a limit, and E, which ends the answer, do not compete; I has no sibling); F and H tie, so tree
    order keeps F."""
    rows, skipped = curate([_open_tree()], "paper", 0.9, "mean", False, iteration=1, pairs="sentences")
    assert not skipped
    row = rows[0]
    assert (row["prefix"], row["chosen"], row["rejected"]) == ("A.", "F.", "G.")
    assert row["margin"] == pytest.approx(189.0) and row["n_candidates"] == 3
    assert [s["end_prob"] for s in row["chosen_sentences"] + row["rejected_sentences"]] == [None, None]
    rows, skipped = curate([_open_tree()], "paper", 0.9, "mean", False, iteration=1, min_margin=190.0,
                           pairs="sentences")
    assert rows == [] and skipped == {"margin_below_min": 1}


def test_step_pairs_come_from_every_prefix_and_the_end_is_a_step():
    """``pairs: steps``: every prefix whose best and worst next step differ by min_margin gives a pair; where the
    answer may end, the end competes with R(s) = (1 - λ) · P(EOS) (no image evidence): after "B." it beats I."""
    rows, skipped = curate([_open_tree()], "paper", 0.9, "mean", False, iteration=1, min_margin=100.0,
                           pairs="steps")
    assert not skipped
    assert [(r["prefix"], r["chosen"], r["rejected"]) for r in rows] == [("A.", "F.", "G."), ("B.", "", "I.")]
    assert rows[1]["chosen_reward"] == pytest.approx(0.1 * 0.9) and rows[1]["chosen_sentences"] == []
    assert rows[1]["margin"] == pytest.approx(180.09)
    rows, _ = curate([_open_tree()], "paper", 0.9, "mean", False, iteration=1, pairs="steps")
    assert [(r["prefix"], r["chosen"], r["rejected"]) for r in rows] == [("", "B.", "A."), ("A.", "F.", "G."),
                                                                          ("B.", "", "I.")]


def test_sentence_pairs_need_two_different_open_siblings():
    lone = SearchTree("q", "img.png", "Describe.", [node(0, -1, "A.", -0.1, 30.0),
                                                    node(1, -1, "B", -0.1, 30.0, ends=True)])
    for pairs in ("sentences", "steps"):
        rows, skipped = curate([lone], "paper", 0.9, "mean", False, iteration=1, pairs=pairs)
        assert rows == [] and skipped == {"no_sibling_sentences": 1}
