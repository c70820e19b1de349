"""The released code's tree cleaning (``score.py``: ``utils.clean_tree`` and ``dfs_score``'s length minimum).

Before its CLIP scoring, the released ``score.py`` drops every candidate sentence — and everything that follows
it — whose text (after ``utils.clean_text``, which deletes the characters outside its allowed set: emoji among
them, so its emoji test never fires) holds Korean, Cyrillic, Japanese kana or repeated ``&nbsp;``, repeats a word
six times in a row or a character eleven times (spaces between allowed), holds one of four literal junk runs, has
more than five line breaks, or is shorter than four characters. With a 7B model and Hamming penalty 3.0 the later
beam groups are pushed onto such tokens; without the filter they would make easy rejected answers, so DPO would
learn to avoid junk more than hallucination. ``reward.clean_tree`` (``auto``: on in ``official`` mode only)
applies it when pairs are curated: the search still finds these sentences, they just never enter a pair or a
sibling rank.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from csr_train.search import SearchTree

# utils.clean_text's allowed set (its "-( is a range: " # $ % & ' ( are allowed)
_DISALLOWED = re.compile(r"[^\w\s.,?!;:\'\"-()/\[\]{}+$€£*=/><==!%°^™©®♫♪π√]+")
_SCRIPTS = re.compile(r"[\u3130-\u318F\uAC00-\uD7AF]|[\U0001F600-\U0001F64F\U0001F300-\U0001F5FF\U0001F680-\U0001F6FF"
                      r"\U0001F700-\U0001F77F]|[\u0400-\u04FF]|[\u3040-\u309F\u30A0-\u30FF]|(&nbsp;){2,}")
_REPEATED_WORD = re.compile(r"(\b\w+\b)(?:\s+\1){5,}")
_REPEATED_CHARACTER = re.compile(r"(.)" + r"\s*\1" * 10)
_JUNK_RUNS = ("ttttttttttt", "sssssssssss", ", , , , , , , , , , , , ,", "''''''''''")
MIN_CHARACTERS = 4  # dfs_score: a child whose new text is shorter is not scored, nor anything below it


def released_clean_text(text: str) -> str:
    """``utils.clean_text``: what the released code scored and filtered, of a sentence's text."""
    return _DISALLOWED.sub("", text.strip())


def why_dropped(text: str) -> str | None:
    """Why the released ``score.py`` drops a sentence (``None``: kept)."""
    cleaned = released_clean_text(text)
    if _SCRIPTS.search(cleaned):
        return "script"
    if _REPEATED_WORD.search(cleaned) or _REPEATED_CHARACTER.search(cleaned) or any(r in cleaned for r in _JUNK_RUNS):
        return "repetition"
    if cleaned.count("\n") > 5:
        return "line_breaks"
    if len(cleaned) < MIN_CHARACTERS:
        return "too_short"
    return None


def kept_nodes(tree: SearchTree) -> set[int]:
    """The nodes that survive the cleaning: each of its path's sentences is kept (a dropped sentence takes its
    subtree with it). Nodes come parent first, so one pass suffices."""
    kept: set[int] = set()
    for node in tree.nodes:
        if (node.parent < 0 or node.parent in kept) and why_dropped(node.text) is None:
            kept.add(node.node_id)
    return kept


def cleaned_tree(tree: SearchTree) -> SearchTree:
    """The tree without the dropped sentences and their subtrees, renumbered in the same order (so sibling ranks,
    paths and ties are those of the kept nodes, as when the released code removes them from its tree)."""
    kept = kept_nodes(tree)
    number = {node.node_id: i for i, node in enumerate(n for n in tree.nodes if n.node_id in kept)}
    nodes = [replace(n, node_id=number[n.node_id], parent=number.get(n.parent, -1)) for n in tree.nodes
             if n.node_id in kept]
    return replace(tree, nodes=nodes)


def dropped_sentences(trees: list[SearchTree]) -> dict[str, int]:
    """How many sentences the cleaning drops for their own text, by reason (the pairs stage's summary: how much
    junk the search wrote)."""
    return dict(Counter(reason for tree in trees for reason in map(why_dropped, (n.text for n in tree.nodes))
                        if reason))
