"""Figure 7's view of a caption: the objects CHAIR counts, hallucinated ones in red, correct ones in green.

The words are found by CHAIR's own parser (``csr_eval.benchmarks.chair.caption_objects``, synonyms and
two-word merging included), so what is coloured is exactly what was scored; the colour comes from the
image's ground-truth objects stored with the sample.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from csr_eval.benchmarks.chair import CocoObjectVocabulary, caption_objects

HALLUCINATED = "#c62828"
CORRECT = "#2e7d32"
COLOURS = {"hallucinated": HALLUCINATED, "wrong": HALLUCINATED, "correct": CORRECT, "right": CORRECT}


def mark(text: str, kind: str, title: str | None = None) -> str:
    """``text`` (escaped) in a span of class ``kind`` coloured red (hallucinated, wrong) or green."""
    titled = f' title="{html.escape(title)}"' if title else ""
    return f'<span class="{kind}"{titled} style="color:{COLOURS[kind]};font-weight:600">{html.escape(text)}</span>'


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    text: str
    category: str
    hallucinated: bool


def mentions(caption: str, ground_truth: list[str], vocab: CocoObjectVocabulary) -> list[Mention]:
    found = caption_objects(caption, vocab)
    truth = set(ground_truth)
    return [Mention(start, end, caption[start:end], node, node not in truth)
            for (start, end), node in zip(found.spans, found.node_words) if end > start]


def caption_html(caption: str, ground_truth: list[str], vocab: CocoObjectVocabulary) -> str:
    """The caption as HTML with each object mention wrapped in a coloured, titled span."""
    out, cursor = [], 0
    for m in mentions(caption, ground_truth, vocab):
        if m.start < cursor:  # overlapping spans cannot happen with CHAIR's tokens; keep the first
            continue
        kind = "hallucinated" if m.hallucinated else "correct"
        out.append(html.escape(caption[cursor:m.start]))
        out.append(mark(m.text, kind, f"{m.category}: {kind}"))
        cursor = m.end
    out.append(html.escape(caption[cursor:]))
    return "".join(out)
