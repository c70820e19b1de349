"""LLaVA-Bench-in-the-Wild: a judge model rates a reference answer and the model's answer from 1 to 10.

Reference: LLaVA ``llava/eval/eval_gpt_review_bench.py`` (``parse_score``: first line "s1 s2", commas
allowed) and ``summarize_gpt_review.py``: per category the mean score tuple is rounded to 3 decimals and
the relative score is ``round(mean(model) / mean(reference) * 100, 1)``; "all" pools every question.

Difference: a review whose scores cannot be parsed is counted and reported, never averaged in. The
reference would average its ``[-1, -1]`` into the means and print a number that looks valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from csr_eval.io import read_jsonl

NAME = "llava_wild"
CATEGORIES = ("llava_bench_complex", "llava_bench_conv", "llava_bench_detail")


def parse_review_scores(review: str) -> tuple[float, float] | None:
    """(reference score, model score) from the judge's first line, or None when unparseable."""
    try:
        first = review.split("\n")[0].replace(",", " ")
        parts = first.split(" ")
        if len(parts) == 2:
            return float(parts[0]), float(parts[1])
    except ValueError:
        pass
    return None


@dataclass
class CategoryScore:
    n: int
    reference_mean: float
    model_mean: float

    @property
    def relative(self) -> float:
        """The printed relative score (means rounded to 3 decimals first, as the reference)."""
        return round(round(self.model_mean, 3) / round(self.reference_mean, 3) * 100, 1)

    def to_dict(self) -> dict:
        return {"n": self.n, "relative": self.relative, "reference_mean": self.reference_mean,
                "model_mean": self.model_mean}


def score_reviews(reviews: list[dict]) -> dict:
    """Score parsed review records (``category`` and ``tuple`` or ``content``)."""
    groups: dict[str, list[tuple[float, float]]] = {"all": []}
    unparseable = []
    for review in reviews:
        pair = review.get("tuple")
        pair = tuple(pair) if pair is not None else parse_review_scores(str(review.get("content", "")))
        if pair is None or len(pair) != 2 or min(pair) < 0:
            unparseable.append(review.get("question_id"))
            continue
        groups["all"].append(pair)
        groups.setdefault(str(review["category"]), []).append(pair)
    if not groups["all"]:
        raise ValueError("no parseable review")
    out = {}
    for name, pairs in groups.items():
        ref = sum(p[0] for p in pairs) / len(pairs)
        model = sum(p[1] for p in pairs) / len(pairs)
        out[name] = CategoryScore(len(pairs), ref, model).to_dict()
    return {"relative": out["all"]["relative"], "categories": out, "n_unparseable": len(unparseable),
            "unparseable_question_ids": unparseable}


def score_file(path: str | Path) -> dict:
    return score_reviews([obj for _, obj in read_jsonl(path, required=("category",))])
