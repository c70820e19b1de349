"""GQA (testdev-balanced): open answers, exact match after LLaVA's normalisation.

Reference: LLaVA ``scripts/convert_gqa_for_eval.py`` (prediction = ``text.rstrip('.').lower()``) and the
official GQA ``eval.py`` accuracy (prediction equals the gold answer).
"""

from __future__ import annotations

NAME = "gqa"


def normalize(answer: str) -> str:
    return answer.rstrip(".").lower()


def score(records: list[dict]) -> dict:
    """records: ``prediction`` and ``answer``."""
    if not records:
        raise ValueError("no answers to score")
    right = [normalize(str(r["prediction"])) == str(r["answer"]) for r in records]
    return {"accuracy": sum(right) / len(right), "n": len(right)}
