"""MM-Vet: a judge grades each answer in {0.0, 0.1, ..., 1.0}; total = mean ×100, also per capability.

Reference: yuweihao/MM-Vet ``mm-vet_evaluator.py``. Samples without a valid grade are counted and reported
and no total is given unless every sample is graded (``require_all``), instead of scoring silently.
"""

from __future__ import annotations

from pathlib import Path

from csr_eval.benchmark import COMPREHENSIVE, Benchmark, Column, LmmsTask, ScoreCommand
from csr_eval.errors import InputError
from csr_eval.io import read_jsonl
from csr_eval.judge import JudgeError
from csr_eval.lmms.general import JUDGED_BY_US
from csr_eval.report import format_table

NAME = "mmvet"
CAPABILITIES = ("rec", "ocr", "know", "gen", "spat", "math")


def score(records: list[dict], require_all: bool = True) -> dict:
    """records: ``score`` (0..1 or None when the judge failed) and ``capabilities`` (list of names)."""
    graded = [r for r in records if isinstance(r.get("score"), (int, float)) and 0 <= r["score"] <= 1]
    failed = len(records) - len(graded)
    if not graded or (require_all and failed):
        raise ValueError(f"{failed} of {len(records)} samples have no valid judge grade; refusing to report")
    caps = {}
    for cap in CAPABILITIES:
        vals = [r["score"] for r in graded if cap in r.get("capabilities", [])]
        if vals:
            caps[cap] = 100 * sum(vals) / len(vals)
    return {"total": 100 * sum(r["score"] for r in graded) / len(graded), "capabilities": caps,
            "n": len(graded), "n_failed": failed}


# -- what the toolkit knows about MM-Vet (the registry's entry) ---------------------------------------
def _record(doc: dict, answer: str) -> dict:
    capabilities = doc.get("capability", [])
    if isinstance(capabilities, str):
        capabilities = [c.strip() for c in capabilities.split(",")]
    return {"prediction": answer, "question_text": doc["question"], "gt": doc["answer"],
            "capabilities": list(capabilities)}


def grader_prompt() -> str:
    """The grader prompt, read from lmms-eval's mmvet/utils.py without importing it (the import builds an
    OpenAI client, which fails without an OpenAI key even when another judge is used)."""
    import ast

    import lmms_eval

    source = (Path(lmms_eval.__file__).parent / "tasks" / "mmvet" / "utils.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MM_VET_PROMPT" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("MM_VET_PROMPT not found in lmms-eval's mmvet/utils.py (lmms-eval version changed?)")


def _review(records: list[dict], judge) -> None:
    """The MM-Vet grader prompt (as in the official evaluator and lmms-eval), temperature 0, raised by 0.5 on
    an unreadable grade as the official evaluator does, at most twice; then the benchmark fails."""

    prompt_head = grader_prompt()
    for r in records:
        gt = r["gt"].replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
        prompt = f"{prompt_head}\n{r['question_text']} | {gt} | {r['prediction']} |"
        grade = None
        for temperature in (0.0, 0.5, 1.0):
            reply = judge.ask(None, prompt, temperature=temperature)
            try:
                value = float(reply.strip().split(" ")[0])
            except (ValueError, IndexError):
                continue
            if 0.0 <= value <= 1.0:
                grade = value
                break
        if grade is None:
            raise JudgeError(f"unreadable grade for question {r['sample_id']}: {reply[:120]!r}")
        r["score"], r["review"], r["tuple"] = grade, reply, [grade]
        r["correct"] = None


def _score_records(records: list[dict]) -> dict:
    return score([{"score": r["score"], "capabilities": r["capabilities"]} for r in records])


def _score_arguments(p) -> None:
    p.add_argument("--graded", required=True, type=Path)


def _score_files(args) -> tuple[dict, str]:
    records = [obj for _, obj in read_jsonl(args.graded, required=("question_id", "score"))]
    try:
        data = score(records)
    except ValueError as exc:
        raise InputError(args.graded, str(exc)) from None
    rows = [[cap, v] for cap, v in data["capabilities"].items()] + [["total", data["total"]]]
    return data, format_table(["capability", "score"], rows, title="MM-Vet")


BENCHMARKS = (Benchmark(
    NAME, "MM-Vet", COMPREHENSIVE, 5, (Column("MM-Vet", "MM-Vet", lambda m: m["total"], paper_column="MM-Vet"),),
    lmms=LmmsTask("mmvet", "MMVet", _record, _score_records, review=_review, overrides=JUDGED_BY_US + (
        # LLaVA-1.5 asks the raw question, greedy (lmms-eval: "think step by step" prefix and temperature 0.2)
        ("lmms_eval_specific_kwargs", {"default": {"pre_prompt": "", "post_prompt": ""}}),
        ("generation_kwargs", {"max_new_tokens": 1024, "temperature": 0, "do_sample": False}))),
    score_command=ScoreCommand("MM-Vet from judge grades: jsonl with question_id, score (0..1) and capabilities "
                               "(list).", _score_arguments, _score_files)),)
