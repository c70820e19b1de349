"""SEED-Bench (image subset): multiple choice, exact option letter.

Reference: LLaVA ``scripts/convert_seed_for_submission.py``: an answer is right when it equals the gold
letter exactly (no strip, no case folding), so the model must answer with the bare letter. Accuracy per
``question_type_id`` and overall.
"""

from __future__ import annotations

from csr_eval.benchmark import COMPREHENSIVE, Benchmark, Column, LmmsTask
from csr_eval.score_cli import answer_file_command

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


# -- what the toolkit knows about SEED-Bench (the registry's entry) -----------------------------------
def image_only(dataset):
    """LLaVA-1.5 reports SEED-Bench's image questions (SEED-IMG); video questions are left out."""
    return dataset.filter(lambda doc: doc["data_type"] == "image")


def _record(doc: dict, answer: str) -> dict:
    return {"prediction": answer, "answer": doc["answer"], "question_type_id": doc.get("question_type_id", "all")}


SCORE = answer_file_command(
    "SEED-Bench: --annotation json (SEED-Bench-format {'questions': [...]} or a list) with question_id, answer and "
    "question_type_id; --result-file jsonl with question_id and text.", "--annotation", "SEED-Bench (exact letter)",
    lambda g: g["question_id"], _record, lambda records, args: score(records), container_key="questions")


BENCHMARKS = (Benchmark(
    NAME, "SEED-Bench (image)", COMPREHENSIVE, 1, (Column("SEED", "SEED", lambda m: 100 * m["accuracy"],
                                                          paper_column="SEED"),),
    lmms=LmmsTask("seedbench", "SEED-Bench", _record, score, lambda r: is_correct(r["prediction"], r["answer"]),
                  process_docs=image_only),
    score_command=SCORE),)
