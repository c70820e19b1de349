"""The released score.py's tree cleaning (utils.clean_tree + dfs_score's 4-character minimum), reproduced with its
quirks, and where the curation applies it (``reward.clean_tree``)."""

from __future__ import annotations

import pytest

from csr_train.curation import tree_pairs
from csr_train.search import SearchTree, SentenceNode
from csr_train.tree_filters import kept_nodes, released_clean_text, why_dropped


@pytest.mark.parametrize("text, reason", [
    ("There is a cup at the top.", None),
    ("이것은 고양이입니다.", "script"),  # Korean
    ("Это кот.", "script"),  # Cyrillic
    ("これは猫です。", "script"),  # kana
    ("A cat sits&nbsp;&nbsp;here.", "script"),
    ("A cat 😀 sits here.", None),  # clean_text deletes the emoji before the emoji test looks (the released quirk)
    ("the the the the the the end.", "repetition"),  # one word six times
    ("the the the the the end.", None),  # five
    ("There is a cat...........", "repetition"),  # one character eleven times
    ("There is a cat..........", None),  # ten
    ("A 1 1 1 1 1 1 1 1 1 1 1", "repetition"),  # eleven, spaces between
    ("Look: ''''''''''.", "repetition"),
    ("a\nb\nc\nd\ne\nf\ng.", "line_breaks"),  # six line breaks
    ("a\nb\nc\nd\ne\nf.", None),  # five
    ("Hi.", "too_short"),
    ("Cat.", None),
    ("---.", "too_short"),  # '-' is outside clean_text's set ('"-(' is a range), so this is "." alone
])
def test_why_the_released_code_drops_a_sentence(text, reason):
    assert why_dropped(text) == reason


def test_clean_text_keeps_the_released_set():
    assert released_clean_text(" A T-shirt (red) costs $5 — 😀 ") == "A Tshirt (red) costs $5  "


def _node(node_id, parent, text, r_i, lm_score=-1.0, ends=False):
    node = SentenceNode(node_id, parent, 1 if parent < 0 else 2, text, [], [], lm_score, "eos" if ends else "period",
                        ends_response=ends)
    node.r_i, node.r_t = r_i, 0.5
    node.reward = 0.9 * r_i + 0.1 * 0.5
    return node


def _tree():
    """Three first sentences; a second Korean sentence (the lowest CLIP score, so the released rejected answer
    without the cleaning) and its continuation; and two clean answers."""
    return SearchTree("p", "img.png", "Describe.", [
        _node(0, -1, "There is a cup.", 30.0),
        _node(1, -1, "A dog is here.", 20.0, ends=True),
        _node(2, 0, "이것은 고양이입니다.", 2.0),
        _node(3, 2, "It is small.", 25.0, ends=True),
        _node(4, 0, "It is on the table.", 28.0, ends=True),
    ])


def test_a_dropped_sentence_takes_its_subtree_with_it():
    assert kept_nodes(_tree()) == {0, 1, 4}


@pytest.mark.parametrize("mode", ["paper", "official"])
def test_cleaning_keeps_junk_out_of_the_pairs(mode):
    rows = {clean: tree_pairs(_tree(), mode, 0.9, "mean", False, iteration=1, clean_tree=clean)
            for clean in (False, True)}
    assert "이것은" in rows[False][0]["rejected"]  # the junk answer is the easy negative
    [row] = rows[True]
    assert "이것은" not in row["chosen"] + row["rejected"]
    assert {row["chosen"], row["rejected"]} == {"There is a cup. It is on the table.", "A dog is here."}
    assert row["n_candidates"] == 2


@pytest.mark.parametrize("overrides, cleaned", [
    ([], False),  # the paper's mode: the paper says nothing of a cleaning
    (["search.mode=official"], True),  # the released pipeline cleans before score.py's ranks
    (["search.mode=official", "reward.clean_tree=none"], False),
    (["reward.clean_tree=released"], True),
])
def test_the_config_chooses_the_cleaning_once(overrides, cleaned):
    from csr_train.config import load_csr_config
    from csr_train.methods import method_for

    config = load_csr_config("configs/micro.yaml", ["reward.min_margin=0", "reward.aggregate=mean", *overrides])
    [row] = method_for(config).pairs(_tree().to_dict(), 1)
    assert ("이것은" in row["chosen"] + row["rejected"]) is not cleaned


def test_clean_tree_is_checked():
    from csr_eval.errors import InputError
    from csr_train.config import load_csr_config

    with pytest.raises(InputError, match="reward.clean_tree"):
        load_csr_config("configs/micro.yaml", ["reward.clean_tree=on"])


def test_a_tree_whose_answers_are_all_cleaned_away_says_so():
    tree = SearchTree("p", "img.png", "Describe.", [_node(0, -1, "No.", 1.0, ends=True),
                                                    _node(1, -1, "이것은 고양이입니다.", 2.0, ends=True)])
    assert tree_pairs(tree, "paper", 0.9, "mean", False, iteration=1, clean_tree=True) == "cleaned_away"


def test_the_pairs_stage_counts_what_the_cleaning_drops():
    from csr_train.tree_filters import dropped_sentences

    assert dropped_sentences([_tree(), _tree()]) == {"script": 2}  # node 3 goes with node 2, not for itself


def test_sentence_pairs_come_from_the_kept_sentences_too():
    tree = SearchTree("p", "img.png", "Describe.", [_node(0, -1, "There is a cup.", 30.0),
                                                    _node(1, -1, "A dog is here.", 20.0),
                                                    _node(2, -1, "이것은 고양이입니다.", 2.0)])
    [raw] = tree_pairs(tree, "paper", 0.9, "mean", False, iteration=1, pairs="sentences")
    [clean] = tree_pairs(tree, "paper", 0.9, "mean", False, iteration=1, pairs="sentences", clean_tree=True)
    assert (raw["rejected"], raw["n_candidates"]) == ("이것은 고양이입니다.", 3)
    assert (clean["chosen"], clean["rejected"], clean["n_candidates"]) == ("There is a cup.", "A dog is here.", 2)
