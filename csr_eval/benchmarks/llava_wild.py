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

from csr_eval.benchmark import COMPREHENSIVE, Benchmark, Column, LmmsTask, ScoreCommand
from csr_eval.io import read_jsonl
from csr_eval.judge import JudgeError
from csr_eval.lmms.general import JUDGED_BY_US
from csr_eval.report import format_table

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


# -- what the toolkit knows about LLaVA-Bench-in-the-Wild (the registry's entry) ----------------------
REVIEW_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."


def _record(doc: dict, answer: str) -> dict:
    captions = doc.get("caption", [])
    return {"prediction": answer, "question_text": doc.get("question", ""), "gpt_answer": doc.get("gpt_answer", ""),
            "context": "\n".join(captions) if isinstance(captions, list) else str(captions),
            "category": doc.get("category", "")}


def _review(records: list[dict], judge) -> None:
    """LLaVA's eval_gpt_review_bench.py prompt (rules from lmms-eval's copy of rule.json); every review must
    yield a score pair, or the benchmark fails."""
    import json

    import lmms_eval


    rules = json.loads((Path(lmms_eval.__file__).parent / "tasks" / "llava-in-the-wild" / "rule.json").read_text())
    for r in records:
        rule = rules["llava_bench_" + r["category"]]
        role = rule["role"]
        content = (f"[Context]\n{r['context']}\n\n[Question]\n{r['question_text']}\n\n[{role} 1]\n{r['gpt_answer']}"
                   f"\n\n[End of {role} 1]\n\n[{role} 2]\n{r['prediction']}\n\n[End of {role} 2]\n\n"
                   f"[System]\n{rule['prompt']}\n\n")
        review = judge.ask(REVIEW_SYSTEM, content)
        scores = parse_review_scores(review)
        if scores is None:
            raise JudgeError(f"unreadable review for question {r['sample_id']}: {review[:120]!r}")
        r["tuple"], r["review"] = list(scores), review
        r["correct"] = None


def _score_records(records: list[dict]) -> dict:
    return score_reviews([{"category": r["category"], "tuple": r["tuple"]} for r in records])


def _score_arguments(p) -> None:
    p.add_argument("--reviews", required=True, type=Path, nargs="+", help="one or more review files (runs)")


def _score_files(args) -> tuple[dict, str]:
    runs = {str(path): score_file(path) for path in args.reviews}
    rows = [[Path(path).name, cat, s["n"], s["relative"], 10 * s["reference_mean"], 10 * s["model_mean"]]
            for path, run in runs.items() for cat, s in run["categories"].items()]
    mean = sum(r["relative"] for r in runs.values()) / len(runs)
    unparseable = sum(r["n_unparseable"] for r in runs.values())
    table = format_table(["file", "category", "n", "relative", "ref×10", "model×10"], rows,
                         title="LLaVA-Bench-in-the-Wild (summarize_gpt_review.py rules)")
    note = f"\nrelative score (mean over {len(runs)} run(s)): {mean:.2f}"
    if unparseable:
        note += f"\nWARNING: {unparseable} review(s) could not be parsed and were left out"
    return {"relative": mean, "runs": runs, "n_unparseable": unparseable}, table + note


BENCHMARKS = (Benchmark(
    NAME, "LLaVA-Bench-in-the-Wild", COMPREHENSIVE, 3,
    (Column("LLaVA_W", "LLaVA^W", lambda m: m["relative"], paper_column="LLaVA_W"),),
    lmms=LmmsTask("llava_in_the_wild", "llava-bench-in-the-wild", _record, _score_records, review=_review,
                  overrides=JUDGED_BY_US),
    score_command=ScoreCommand("LLaVA-Bench-in-the-Wild relative score from judge reviews (jsonl with category and "
                               "tuple or content, as LLaVA's eval_gpt_review_bench.py writes).",
                               _score_arguments, _score_files)),)
