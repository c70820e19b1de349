"""MMBench (dev) with CircularEval: a question counts only when every option-rotated copy is right.

Reference: the MMBench/OpenCompass evaluator. Copies of one question share ``index mod 1,000,000``.
Option extraction follows the evaluator's exact matching: a bare letter, a leading letter followed by a
non-letter ("B." / "B) ..."), or an answer equal to exactly one option's text. Predictions that none of
these resolve would need the evaluator's ChatGPT fallback: we count them as wrong and report them as
``n_unresolved`` (LLaVA-1.5 answers are bare letters, so the fallback is never needed there).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from csr_eval.benchmark import COMPREHENSIVE, Benchmark, Column, LmmsTask, ScoreCommand
from csr_eval.errors import InputError
from csr_eval.report import format_table

NAME = "mmbench"
LETTERS = "ABCDEFGH"
COPY_STRIDE = 1_000_000


def extract_option(prediction: str, options: dict[str, str]) -> str | None:
    text = prediction.strip()
    if text in options:
        return text
    match = re.match(r"^\(?([A-H])(?:[\).:,\s]|$)", text)
    if match and match.group(1) in options:
        return match.group(1)
    by_text = [letter for letter, option in options.items() if option and text.lower() == option.strip().lower()]
    return by_text[0] if len(by_text) == 1 else None


def circular_eval(rows: list[dict]) -> dict:
    """rows: ``index``, ``prediction``, ``answer`` and option columns A..D (E..H where present)."""
    groups: dict[int, list[bool]] = {}
    first_pass: dict[int, bool] = {}
    unresolved = 0
    for row in rows:
        options = {l: str(row.get(l) or "") for l in LETTERS if str(row.get(l) or "").strip()}
        letter = extract_option(str(row["prediction"]), options)
        unresolved += letter is None
        right = letter == str(row["answer"]).strip()
        index = int(row["index"])
        groups.setdefault(index % COPY_STRIDE, []).append(right)
        if index < COPY_STRIDE:
            first_pass[index] = right
    circular = sum(all(v) for v in groups.values())
    per_row = sum(sum(v) for v in groups.values())
    return {"circular_accuracy": circular / len(groups), "n_questions": len(groups),
            "n_circular_correct": circular,
            "vanilla_accuracy": sum(first_pass.values()) / len(first_pass) if first_pass else 0.0,
            "per_row_accuracy": per_row / len(rows), "n_rows": len(rows), "n_unresolved": unresolved}


def score_file(path: str | Path) -> dict:
    """Score a CSV with ``index, prediction, answer`` and option columns (LLaVA's upload sheet as CSV)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"index", "prediction", "answer"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(path, f"missing column(s) {sorted(missing)}; expected index, prediction, answer, A..D")
        rows = []
        for number, row in enumerate(reader, start=2):
            try:
                int(row["index"])
            except ValueError:
                raise InputError(path, f"'index' must be an integer, got {row['index']!r}", number) from None
            rows.append(row)
    if not rows:
        raise InputError(path, "no rows")
    return circular_eval(rows)


# -- what the toolkit knows about MMBench (the registry's entry) --------------------------------------
def _record(doc: dict, answer: str) -> dict:
    options = {k: doc[k] for k in LETTERS if isinstance(doc.get(k), str) and doc[k] not in ("", "nan")}
    return {"index": int(doc["index"]), "prediction": answer, "answer": doc["answer"], **options}


def _correct(record: dict) -> bool:
    return extract_option(record["prediction"], {k: record[k] for k in LETTERS if k in record}) == record["answer"]


def _count(results) -> int:
    """Stands in for lmms-eval's MMBench aggregations, which call a GPT judge or write submission files;
    the score is computed by the project's CircularEval instead."""
    return len(results)


def _score_arguments(p) -> None:
    p.add_argument("--results-csv", required=True, type=Path)


def _score_files(args) -> tuple[dict, str]:
    data = score_file(args.results_csv)
    table = format_table(["circular", "vanilla", "per row", "questions", "unresolved"],
                         [[100 * data["circular_accuracy"], 100 * data["vanilla_accuracy"],
                           100 * data["per_row_accuracy"], data["n_questions"], data["n_unresolved"]]],
                         title="MMBench CircularEval (%)")
    return data, table


BENCHMARKS = (Benchmark(
    NAME, "MMBench (en dev, CircularEval)", COMPREHENSIVE, 4,
    (Column("MMB", "MMB", lambda m: 100 * m["circular_accuracy"], paper_column="MMB"),),
    lmms=LmmsTask("mmbench_en_dev", "MMBench", _record, circular_eval, _correct,
                  overrides=(("metric_list", [{"metric": "gpt_eval_score", "aggregation": _count,
                                               "higher_is_better": True}]),)),
    score_command=ScoreCommand("MMBench CircularEval from a CSV with index, prediction, answer, A..D (LLaVA's upload "
                               "sheet saved as CSV).", _score_arguments, _score_files)),)
