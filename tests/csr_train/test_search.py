"""Sentence-level beam search on the shipped micro-LLaVA: beam counts, cache = recompute, determinism."""

from __future__ import annotations

import pytest
from PIL import Image

from csr_train.config import SearchSettings
from csr_train.prompts import load_prompts
from csr_train.search import PromptItem, SentenceBeamSearch, SentenceRewarder


def _items(world, n):
    prompts = load_prompts(world / "llava_instruct_150k.json")[:n]
    return [PromptItem(p.prompt_id, p.image, p.text, Image.open(world / "images" / "csr" / p.image).convert("RGB"))
            for p in prompts]


def _search(runner, clip, mode="paper", use_cache=True, **settings):
    s = SearchSettings(mode=mode, max_sentences=3, **settings)
    return SentenceBeamSearch(runner.model, runner.processor, s, SentenceRewarder(clip, 0.9), runner.prompt_text,
                              use_cache=use_cache)


FLOAT_NOISE = 3e-4  # float32 log-probabilities from logits of magnitude ~20 summed in another order (seen: 1.01e-4)


def _assert_same_trees(first, second):
    """Same tree shapes, tokens and texts; scores and log-probabilities equal up to float noise. (Rounding both
    sides to a digit, as ``_signature`` does, splits a value that sits at a rounding boundary when the two
    searches add in different orders — the shared KV layout merges attention parts, batch composition changes
    BLAS blocking.)"""
    assert [[(n.parent, n.text, n.token_ids, n.expanded) for n in t.nodes] for t in first] == \
        [[(n.parent, n.text, n.token_ids, n.expanded) for n in t.nodes] for t in second]
    for a, b in zip(first, second):
        for x, y in zip(a.nodes, b.nodes):
            assert (x.lm_score, x.reward) == pytest.approx((y.lm_score, y.reward), abs=FLOAT_NOISE)
            assert x.logprobs == pytest.approx(y.logprobs, abs=FLOAT_NOISE)


def _signature(trees):
    return [[(n.parent, n.text, n.token_ids, round(n.lm_score, 4), round(n.reward, 3), n.expanded) for n in t.nodes]
            for t in trees]


@pytest.mark.parametrize("mode", ["paper", "official"])
def test_beam_counts(csr_world, micro_runner, micro_clip, mode):
    trees = _search(micro_runner, micro_clip, mode).search(_items(csr_world, 3))
    keep_top, keep_bottom = SearchSettings(mode=mode).keep()
    assert (keep_top, keep_bottom) == ((2, 2) if mode == "paper" else (1, 2))
    for tree in trees:
        first = tree.children(-1)
        assert len(first) == 5  # one candidate per diverse beam group at the first step
        parents = {n.parent for n in tree.nodes}
        for parent in parents:
            assert len(tree.children(parent)) <= 5
        for depth in {n.depth for n in tree.nodes}:
            step = [n for n in tree.nodes if n.depth == depth]
            expanded = [n for n in step if n.expanded]
            competing = [n for n in step if not n.ends_response]
            expected = keep_top + keep_bottom if len(competing) >= 5 else len(competing)
            if depth < 3:
                assert len(expanded) == expected
            assert all(not n.ends_response for n in expanded)
        for node in tree.nodes:  # the next step's parents are exactly the expanded nodes
            if node.node_id in parents:
                assert node.expanded
            if node.expanded:  # (all of whose continuations may be EOS alone: then the response can end there)
                assert node.node_id in parents or node.can_end
        assert all(n.text.endswith(".") or n.stop != "period" for n in tree.nodes)
        assert any(n.complete for n in tree.nodes)


def test_paper_mode_keeps_top_and_bottom_by_calibrated_reward(csr_world, micro_runner, micro_clip):
    tree = _search(micro_runner, micro_clip, "paper").search(_items(csr_world, 1))[0]
    first = sorted(tree.children(-1), key=lambda n: -n.path_score)
    assert [n.expanded for n in first] == [True, True, False, True, True]
    assert all(n.path_score == pytest.approx(0.9 * n.r_i + 0.1 * n.r_t) for n in first)


def test_official_mode_prunes_by_language_score(csr_world, micro_runner, micro_clip):
    tree = _search(micro_runner, micro_clip, "official").search(_items(csr_world, 1))[0]
    first = sorted(tree.children(-1), key=lambda n: -n.lm_score)
    assert [n.expanded for n in first] == [True, False, False, True, True]  # top-1 and bottom-2
    for node in tree.nodes:
        if node.parent >= 0:
            parent = tree.nodes[node.parent]
            assert node.path_score == pytest.approx(parent.path_score + node.lm_score)


@pytest.mark.parametrize("kv_layout", ["shared", "copied"])
def test_cached_stepping_equals_recomputing(csr_world, micro_runner, micro_clip, kv_layout):
    items = _items(csr_world, 2)
    cached = _search(micro_runner, micro_clip, use_cache=True, kv_layout=kv_layout).search(items)
    recomputed = _search(micro_runner, micro_clip, use_cache=False).search(items)
    _assert_same_trees(cached, recomputed)


def test_batching_and_repetition_do_not_change_the_result(csr_world, micro_runner, micro_clip):
    items = _items(csr_world, 3)
    together = _search(micro_runner, micro_clip).search(items)
    again = _search(micro_runner, micro_clip).search(items)
    one_by_one = [t for item in items for t in _search(micro_runner, micro_clip).search([item])]
    assert _signature(together) == _signature(again)  # the same run twice: equal to the bit, so rounded too
    _assert_same_trees(together, one_by_one)


def test_shared_kv_layout_gives_the_copied_layouts_candidates_in_less_memory(csr_world, micro_runner, micro_clip):
    items = _items(csr_world, 3)
    copied, shared = (_search(micro_runner, micro_clip, kv_layout=layout).track_kv_bytes()
                      for layout in ("copied", "shared"))
    _assert_same_trees(shared.search(items), copied.search(items))
    assert 0 < 2 * shared.kv_peak_bytes < copied.kv_peak_bytes


def test_diversity_penalty_separates_groups(csr_world, micro_runner, micro_clip):
    items = _items(csr_world, 2)
    diverse = _search(micro_runner, micro_clip).search(items)
    plain = _search(micro_runner, micro_clip, diversity_penalty=0.0).search(items)
    for d, p in zip(diverse, plain):
        # without the penalty the five groups repeat the same greedy sentence
        assert len({n.text for n in p.children(-1)}) == 1
        assert len({n.text for n in d.children(-1)}) > 1


def test_r_t_uses_pure_log_probabilities(csr_world, micro_runner, micro_clip):
    import math
    tree = _search(micro_runner, micro_clip).search(_items(csr_world, 1))[0]
    for node in tree.nodes:
        assert node.r_t == pytest.approx(math.exp(sum(node.logprobs)))
        assert node.lm_score <= sum(node.logprobs) / len(node.logprobs) + 1e-6  # the penalty only lowers it


def test_redundancy_rule_zeroes_r_i_of_repeated_statements(csr_world, micro_runner, micro_clip):
    items = _items(csr_world, 3)
    s = SearchSettings(max_sentences=3)
    plain = SentenceBeamSearch(micro_runner.model, micro_runner.processor, s, SentenceRewarder(micro_clip, 0.9),
                               micro_runner.prompt_text).search(items)
    strict = SentenceBeamSearch(micro_runner.model, micro_runner.processor, s,
                                SentenceRewarder(micro_clip, 0.9, redundancy_threshold=0.9),
                                micro_runner.prompt_text).search(items)
    assert not any(n.redundant for t in plain for n in t.nodes)
    flagged = [(t, n) for t in strict for n in t.nodes if n.redundant]
    assert flagged  # the micro model does repeat objects
    for tree, node in flagged:
        assert node.r_i == 0.0 and node.reward == pytest.approx(0.1 * node.r_t)
        earlier = micro_clip.embed_sentences([p.text for p in tree.path(node.node_id)[:-1]])
        assert float((earlier @ micro_clip.embed_sentences([node.text])[0]).max()) >= 0.9
    # first sentences have nothing to repeat
    assert not any(n.redundant for t in strict for n in t.children(-1))


def test_presence_verdict_replaces_graded_r_i_in_the_reward(csr_world, micro_runner, micro_clip):
    items = _items(csr_world, 2)
    s = SearchSettings(max_sentences=3)
    trees = SentenceBeamSearch(micro_runner.model, micro_runner.processor, s,
                               SentenceRewarder(micro_clip, 0.9, redundancy_threshold=0.9, presence_threshold=30.0),
                               micro_runner.prompt_text, "sum").search(items)
    nodes = [n for t in trees for n in t.nodes]
    assert {n.relevance for n in nodes} <= {100.0, -200.0, -50.0}
    for n in nodes:
        if n.redundant:
            assert n.r_i == 0.0 and n.relevance in (-50.0, -200.0)
        else:
            assert n.relevance == (100.0 if n.r_i >= 30.0 else -200.0)  # r_i itself stays Eq. 3
        assert n.reward == pytest.approx(0.9 * n.relevance + 0.1 * n.r_t)


def test_oracle_takes_r_i_place_with_the_same_search(csr_world, micro_runner):
    from csr_train.oracle import OracleJudge

    items = _items(csr_world, 2)
    judge = OracleJudge(csr_world / "annotations")
    trees = SentenceBeamSearch(micro_runner.model, micro_runner.processor, SearchSettings(max_sentences=3),
                               SentenceRewarder(None, 0.9, oracle=judge), micro_runner.prompt_text, "sum").search(items)
    for tree in trees:
        truth = judge.truth(tree.image)
        for node in tree.nodes:
            earlier = [p.text for p in tree.path(node.node_id)[:-1]]
            assert node.r_i == judge.sentence_score(truth, node.text, earlier)
            assert node.reward == pytest.approx(0.9 * node.r_i + 0.1 * node.r_t)


def test_min_end_prob_keeps_only_ends_the_model_would_choose(csr_world, micro_runner, micro_clip):
    """An EOS-alone hypothesis of a later (Hamming-penalised) group marks an end even where the model itself
    would go on; ``min_end_prob`` keeps only the ends whose own P(EOS) reaches it, and changes nothing else."""
    items = _items(csr_world, 3)
    every_end = _search(micro_runner, micro_clip).search(items)
    likely_end = _search(micro_runner, micro_clip, min_end_prob=0.5).search(items)
    _assert_same_trees(every_end, likely_end)
    ends = [(a, b) for ta, tb in zip(every_end, likely_end) for a, b in zip(ta.nodes, tb.nodes) if a.can_end]
    assert all(a.end_prob is not None and a.end_prob == pytest.approx(b.end_prob, abs=FLOAT_NOISE) for a, b in ends)
    unlikely = [b for a, b in ends if a.end_prob < 0.5]
    assert unlikely and not any(b.can_end for b in unlikely)  # on the micro-LLaVA such ends exist
    assert all(b.can_end for a, b in ends if a.end_prob >= 0.5 + FLOAT_NOISE)
    assert all(n.end_prob is None for t in every_end for n in t.nodes if not n.can_end)
