"""ScienceQA-IMG: multiple choice over the test problems that have an image.

Reference: LLaVA ``llava/eval/eval_science_qa.py``: an answer that is exactly an option letter is taken;
else ``"X. ..."`` gives X; else the pattern ``The answer is ([A-Z]).`` must match exactly once; else the
answer FAILED (wrong). A letter beyond the number of choices is wrong. IMG accuracy is over problems with
an image.
"""

from __future__ import annotations

import re
from pathlib import Path

from csr_eval.benchmark import VQA, Benchmark, Column, LmmsTask, ScoreCommand
from csr_eval.errors import InputError
from csr_eval.io import match_answers, read_answers, read_json
from csr_eval.report import format_table

NAME = "sqa"
OPTIONS = ("A", "B", "C", "D", "E")
_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")


def parse_choice(text: str, n_choices: int) -> int:
    """Index of the chosen option, or -1 when the answer cannot be read or is out of range."""
    if text in OPTIONS:
        letter = text
    elif len(text) >= 3 and text[0] in OPTIONS and text[1:3] == ". ":
        letter = text[0]
    else:
        found = _ANSWER_IS.findall(text)
        letter = found[0] if len(found) == 1 else "FAILED"
    return OPTIONS.index(letter) if letter in OPTIONS[:n_choices] else -1


def score(problems: dict[str, dict], answers: dict[str, str]) -> dict:
    """problems: id -> {choices, answer (index), image (truthy when the problem has one)}."""
    rows = [(pid, parse_choice(answers[pid], len(p["choices"])) == p["answer"], bool(p.get("image")))
            for pid, p in problems.items() if pid in answers]
    if not rows:
        raise ValueError("no answered problem")
    img = [right for _, right, has_image in rows if has_image]
    return {"img_accuracy": sum(img) / len(img) if img else 0.0, "n_img": len(img),
            "accuracy": sum(r for _, r, _ in rows) / len(rows), "n": len(rows)}


# -- what the toolkit knows about ScienceQA-IMG (the registry's entry) --------------------------------
def _record(doc: dict, answer: str) -> dict:
    return {"prediction": answer, "choices": list(doc["choices"]), "answer": int(doc["answer"]), "image": True}


def _score_records(records: list[dict]) -> dict:
    problems = {r["sample_id"]: {"choices": r["choices"], "answer": r["answer"], "image": r["image"]} for r in records}
    return score(problems, {r["sample_id"]: r["prediction"] for r in records})


def _correct(record: dict) -> bool:
    return parse_choice(record["prediction"], len(record["choices"])) == record["answer"]


def _score_arguments(p) -> None:
    p.add_argument("--problems", required=True, type=Path)
    p.add_argument("--result-file", required=True, type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--allow-missing", action="store_true")


def _score_files(args) -> tuple[dict, str]:
    problems = read_json(args.problems)
    if not isinstance(problems, dict) or not problems:
        raise InputError(args.problems, "expected ScienceQA problems.json: a mapping id -> problem")
    selected = {str(k): v for k, v in problems.items() if v.get("split", args.split) == args.split}
    answers = {str(k): v for k, v in read_answers(args.result_file).items()}
    present, coverage = match_answers(answers, list(selected), args.result_file, args.problems, args.allow_missing)
    data = score({k: selected[k] for k in present}, answers)
    data["coverage"] = coverage
    table = format_table(["IMG acc", "n IMG", "acc", "n"], [[100 * data["img_accuracy"], data["n_img"],
                                                           100 * data["accuracy"], data["n"]]],
                         title="ScienceQA (eval_science_qa.py rules, %)")
    return data, table


BENCHMARKS = (Benchmark(
    NAME, "ScienceQA-IMG", VQA, 0, (Column("SQA_I", "SQA^I", lambda m: 100 * m["img_accuracy"], paper_column="SQA_I"),),
    lmms=LmmsTask("scienceqa_img", "ScienceQA", _record, _score_records, _correct),
    score_command=ScoreCommand("ScienceQA-IMG: --problems json (ScienceQA problems.json: id -> {choices, answer, "
                               "image, split}); --result-file jsonl with question_id and text.",
                               _score_arguments, _score_files)),)
