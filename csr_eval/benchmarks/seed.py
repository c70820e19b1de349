"""SEED-Bench (image subset): multiple choice, exact option letter.

Reference: LLaVA ``scripts/convert_seed_for_submission.py``: an answer is right when it equals the gold
letter exactly (no strip, no case folding), so the model must answer with the bare letter. Accuracy per
``question_type_id`` and overall.
"""

from __future__ import annotations

NAME = "seed"


def is_correct(prediction: str, answer: str) -> bool:
    return prediction == answer


def score(records: list[dict]) -> dict:
    """records: ``prediction``, ``answer`` and optionally ``question_type_id``."""
    if not records:
        raise ValueError("no answers to score")
    by_type: dict[str, list[bool]] = {}
    right = []
    for r in records:
        ok = is_correct(str(r["prediction"]), str(r["answer"]))
        right.append(ok)
        by_type.setdefault(str(r.get("question_type_id", "all")), []).append(ok)
    return {"accuracy": sum(right) / len(right), "n": len(right),
            "by_type": {k: sum(v) / len(v) for k, v in sorted(by_type.items())}}
