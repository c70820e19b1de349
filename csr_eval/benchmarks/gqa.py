"""GQA (testdev-balanced): open answers, exact match after LLaVA's normalisation.

Reference: LLaVA ``scripts/convert_gqa_for_eval.py`` (prediction = ``text.rstrip('.').lower()``) and the
official GQA ``eval.py`` accuracy (prediction equals the gold answer).
"""

from __future__ import annotations

from pathlib import Path

from csr_eval.benchmark import VQA, Benchmark, Column, LmmsTask
from csr_eval.score_cli import answer_file_command

NAME = "gqa"


def normalize(answer: str) -> str:
    return answer.rstrip(".").lower()


def score(records: list[dict]) -> dict:
    """records: ``prediction`` and ``answer``."""
    if not records:
        raise ValueError("no answers to score")
    right = [normalize(str(r["prediction"])) == str(r["answer"]) for r in records]
    return {"accuracy": sum(right) / len(right), "n": len(right)}


# -- what the toolkit knows about GQA (the registry's entry) ------------------------------------------
def images_from(path: Path):
    """lmms-eval's GQA ``process_docs`` downloads the image config from the hub; this one reads it from the
    same local copy (config ``testdev_balanced_images``) and attaches each question's image by ``imageId``."""
    def attach(dataset):
        import datasets

        images = datasets.load_dataset(str(path), "testdev_balanced_images", split="testdev")
        by_id = {row["id"]: row["image"] for row in images}
        return dataset.map(lambda doc: {"image": by_id[doc["imageId"]]})
    return attach


def _record(doc: dict, answer: str) -> dict:
    return {"prediction": answer, "answer": doc["answer"]}


def _correct(record: dict) -> bool:
    return normalize(record["prediction"]) == normalize(record["answer"])


SCORE = answer_file_command(
    "GQA: --questions json (testdev_balanced_questions.json: id -> {answer, ...}); --result-file jsonl with "
    "question_id and text.", "--questions", "GQA (exact match)", lambda g: g["question_id"], _record,
    lambda records, args: score(records))


BENCHMARKS = (Benchmark(
    NAME, "GQA (testdev-balanced)", VQA, 2, (Column("GQA", "GQA", lambda m: 100 * m["accuracy"], paper_column="GQA"),),
    lmms=LmmsTask("gqa", "GQA", _record, score, _correct, process_docs_for=images_from),
    score_command=SCORE),)
