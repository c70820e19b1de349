"""``csr-eval score <benchmark>``: score answer files produced by any tool (LLaVA's scripts included).

Each benchmark's file contract is in its ``--help``. ``--json`` prints exactly one JSON object on stdout;
everything else (progress, library chatter) goes to stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from csr_eval.benchmarks import chair, gqa, llava_wild, mmbench, mme, mmvet, pope, scienceqa, seed, vizwiz
from csr_eval.errors import InputError
from csr_eval.io import match_answers, read_answers, read_json, read_jsonl
from csr_eval.report import format_table

Scorer = Callable[[argparse.Namespace], tuple[dict, str]]
_SCORERS: dict[str, Scorer] = {}


def _scorer(name: str):
    def register(fn: Scorer) -> Scorer:
        _SCORERS[name] = fn
        return fn
    return register


def add_score_parser(subparsers) -> None:
    score = subparsers.add_parser("score", help="score answer files of one benchmark",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = score.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")

    def sub(name: str, help_text: str) -> argparse.ArgumentParser:
        p = bench.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
        return p

    p = sub("pope", "POPE as LLaVA's eval_pope.py: label files coco_pope_{adversarial,popular,random}.json "
                    "(jsonl: question_id, text, label) in --annotation-dir; --question-file jsonl with "
                    "question_id and category (the split); --result-file jsonl with question_id and text.")
    p.add_argument("--annotation-dir", required=True, type=Path)
    p.add_argument("--question-file", required=True, type=Path)
    p.add_argument("--result-file", required=True, type=Path)
    p.add_argument("--splits", nargs="+", choices=pope.SPLITS, help="default: every split in the question file")
    p.add_argument("--allow-missing", action="store_true",
                   help="score the answered questions and report coverage instead of failing")

    p = sub("mme", "MME as the official eval_tool calculation.py: --results-dir holds <subtask>.txt files with "
                   "lines image<TAB>question<TAB>ground truth<TAB>prediction, two consecutive lines per image.")
    p.add_argument("--results-dir", required=True, type=Path)
    p.add_argument("--require-all", action="store_true", help="fail when any of the 14 subtask files is missing")

    p = sub("chair", "CHAIR as Rohrbach et al. / Maxlinn chair.py: --captions jsonl or json list with image_id "
                     "and caption; --coco-annotations folder with instances_*.json and captions_*.json "
                     "(e.g. instances_val2014.json, captions_val2014.json; whichever exist).")
    p.add_argument("--captions", required=True, type=Path)
    p.add_argument("--coco-annotations", required=True, type=Path)
    p.add_argument("--image-id-key", default="image_id")
    p.add_argument("--caption-key", default="caption")
    p.add_argument("--no-per-caption", action="store_true", help="leave per-caption details out of the JSON")
    p.add_argument("--allow-duplicate-images", action="store_true",
                   help="score every line, repeated image ids included, as the reference chair.py does "
                        "(several sampled captions per image); without it a repeated image id is an error")

    p = sub("llava_wild", "LLaVA-Bench-in-the-Wild relative score from judge reviews (jsonl with category and "
                          "tuple or content, as LLaVA's eval_gpt_review_bench.py writes).")
    p.add_argument("--reviews", required=True, type=Path, nargs="+", help="one or more review files (runs)")

    p = sub("mmbench", "MMBench CircularEval from a CSV with index, prediction, answer, A..D "
                       "(LLaVA's upload sheet saved as CSV).")
    p.add_argument("--results-csv", required=True, type=Path)

    p = sub("seed", "SEED-Bench: --annotation json (SEED-Bench-format {'questions': [...]} or a list) with "
                    "question_id, answer and question_type_id; --result-file jsonl with question_id and text.")
    p.add_argument("--annotation", required=True, type=Path)
    p.add_argument("--result-file", required=True, type=Path)
    p.add_argument("--allow-missing", action="store_true")

    p = sub("gqa", "GQA: --questions json (testdev_balanced_questions.json: id -> {answer, ...}); "
                   "--result-file jsonl with question_id and text.")
    p.add_argument("--questions", required=True, type=Path)
    p.add_argument("--result-file", required=True, type=Path)
    p.add_argument("--allow-missing", action="store_true")

    p = sub("vizwiz", "VizWiz/VQA accuracy: --annotation json list of {question_id or image, answers} with "
                      "the human answers (strings or {answer: ...}); --result-file jsonl with question_id and text.")
    p.add_argument("--annotation", required=True, type=Path)
    p.add_argument("--result-file", required=True, type=Path)
    p.add_argument("--no-leave-one-out", action="store_true", help="plain min(#agree/3, 1) instead of the "
                                                                  "official 10-subset average")
    p.add_argument("--allow-missing", action="store_true")

    p = sub("sqa", "ScienceQA-IMG: --problems json (ScienceQA problems.json: id -> {choices, answer, image, "
                   "split}); --result-file jsonl with question_id and text.")
    p.add_argument("--problems", required=True, type=Path)
    p.add_argument("--result-file", required=True, type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--allow-missing", action="store_true")

    p = sub("mmvet", "MM-Vet from judge grades: jsonl with question_id, score (0..1) and capabilities (list).")
    p.add_argument("--graded", required=True, type=Path)


def run_score(args: argparse.Namespace) -> tuple[dict, str]:
    """Return (JSON-able result, readable table)."""
    return _SCORERS[args.benchmark](args)


@_scorer("pope")
def _pope(args) -> tuple[dict, str]:
    result = pope.score_files(args.annotation_dir, args.question_file, args.result_file, args.splits,
                              args.allow_missing)
    data = result.to_dict()
    rows = [[split] + [m.tp, m.fp, m.tn, m.fn, m.accuracy, m.precision, m.recall, m.f1, m.yes_ratio,
                       result.coverage[split]] for split, m in result.splits.items()]
    table = format_table(["split", "TP", "FP", "TN", "FN", "acc", "prec", "recall", "F1", "yes", "coverage"],
                         rows, title="POPE (eval_pope.py rules)")
    return data, table + f"\nmean F1: {100 * result.mean_f1:.2f}"


@_scorer("mme")
def _mme(args) -> tuple[dict, str]:
    result = mme.score_results_dir(args.results_dir, args.require_all)
    data = result.to_dict()
    rows = [[name, s.acc, s.acc_plus, s.score, s.other_num] for name, s in result.subtasks.items()]
    table = format_table(["subtask", "acc", "acc+", "score", "other"], rows, title="MME (calculation.py rules)")
    extra = f"\nperception: {result.perception:.2f}   cognition: {result.cognition:.2f}"
    if data["missing_subtasks"]:
        extra += f"\nmissing subtasks (not counted): {', '.join(data['missing_subtasks'])}"
    return data, table + extra


@_scorer("chair")
def _chair(args) -> tuple[dict, str]:
    result = chair.score_files(args.captions, args.coco_annotations, args.image_id_key, args.caption_key,
                               args.allow_duplicate_images)
    data = result.to_dict(per_caption=not args.no_per_caption)
    table = format_table(["CHAIR_S", "CHAIR_I", "recall", "mean length", "captions"],
                         [[100 * result.chair_s, 100 * result.chair_i, 100 * result.recall, result.mean_length,
                           result.n_captions]], title="CHAIR (Maxlinn chair.py rules; values ×100)")
    return data, table


@_scorer("llava_wild")
def _llava_wild(args) -> tuple[dict, str]:
    runs = {str(path): llava_wild.score_file(path) for path in args.reviews}
    rows = []
    for path, run in runs.items():
        for cat, s in run["categories"].items():
            rows.append([Path(path).name, cat, s["n"], s["relative"], 10 * s["reference_mean"], 10 * s["model_mean"]])
    mean = sum(r["relative"] for r in runs.values()) / len(runs)
    unparseable = sum(r["n_unparseable"] for r in runs.values())
    data = {"relative": mean, "runs": runs, "n_unparseable": unparseable}
    table = format_table(["file", "category", "n", "relative", "ref×10", "model×10"], rows,
                         title="LLaVA-Bench-in-the-Wild (summarize_gpt_review.py rules)")
    note = f"\nrelative score (mean over {len(runs)} run(s)): {mean:.2f}"
    if unparseable:
        note += f"\nWARNING: {unparseable} review(s) could not be parsed and were left out"
    return data, table + note


@_scorer("mmbench")
def _mmbench(args) -> tuple[dict, str]:
    data = mmbench.score_file(args.results_csv)
    table = format_table(["circular", "vanilla", "per row", "questions", "unresolved"],
                         [[100 * data["circular_accuracy"], 100 * data["vanilla_accuracy"],
                           100 * data["per_row_accuracy"], data["n_questions"], data["n_unresolved"]]],
                         title="MMBench CircularEval (%)")
    return data, table


def _gold_list(path: Path, container_key: str | None = None) -> list[dict]:
    raw = read_json(path)
    if container_key and isinstance(raw, dict) and container_key in raw:
        raw = raw[container_key]
    if isinstance(raw, dict):
        raw = [dict(v, question_id=k) for k, v in raw.items()]
    if not isinstance(raw, list) or not raw:
        raise InputError(path, "expected a non-empty JSON list (or an id -> object mapping)")
    return raw


def _simple(args, gold_path: Path, gold: list[dict], gold_id, build, score_fn, title: str) -> tuple[dict, str]:
    answers = read_answers(args.result_file)
    by_id = {str(gold_id(g)): g for g in gold}
    present, coverage = match_answers(answers, list(by_id), args.result_file, gold_path, args.allow_missing)
    text_of = {str(k): v for k, v in answers.items()}
    data = score_fn([build(by_id[q], text_of[q]) for q in present])
    data["coverage"] = coverage
    cols = [k for k, v in data.items() if isinstance(v, (int, float))]
    return data, format_table(cols, [[data[c] for c in cols]], title=title)


@_scorer("seed")
def _seed(args) -> tuple[dict, str]:
    gold = _gold_list(args.annotation, "questions")
    return _simple(args, args.annotation, gold, lambda g: g["question_id"],
                   lambda g, text: {"prediction": text, "answer": g["answer"],
                                    "question_type_id": g.get("question_type_id", "all")},
                   seed.score, "SEED-Bench (exact letter)")


@_scorer("gqa")
def _gqa(args) -> tuple[dict, str]:
    gold = _gold_list(args.questions)
    return _simple(args, args.questions, gold, lambda g: g["question_id"],
                   lambda g, text: {"prediction": text, "answer": g["answer"]}, gqa.score, "GQA (exact match)")


@_scorer("vizwiz")
def _vizwiz(args) -> tuple[dict, str]:
    gold = _gold_list(args.annotation)

    def answers_of(g):
        return [a["answer"] if isinstance(a, dict) else a for a in g["answers"]]

    return _simple(args, args.annotation, gold, lambda g: g.get("question_id", g.get("image")),
                   lambda g, text: {"prediction": text, "answers": answers_of(g)},
                   lambda recs: vizwiz.score(recs, leave_one_out=not args.no_leave_one_out), "VizWiz (VQA accuracy)")


@_scorer("sqa")
def _sqa(args) -> tuple[dict, str]:
    problems = read_json(args.problems)
    if not isinstance(problems, dict) or not problems:
        raise InputError(args.problems, "expected ScienceQA problems.json: a mapping id -> problem")
    selected = {str(k): v for k, v in problems.items() if v.get("split", args.split) == args.split}
    answers = {str(k): v for k, v in read_answers(args.result_file).items()}
    present, coverage = match_answers(answers, list(selected), args.result_file, args.problems, args.allow_missing)
    data = scienceqa.score({k: selected[k] for k in present}, answers)
    data["coverage"] = coverage
    table = format_table(["IMG acc", "n IMG", "acc", "n"], [[100 * data["img_accuracy"], data["n_img"],
                                                           100 * data["accuracy"], data["n"]]],
                         title="ScienceQA (eval_science_qa.py rules, %)")
    return data, table


@_scorer("mmvet")
def _mmvet(args) -> tuple[dict, str]:
    records = [obj for _, obj in read_jsonl(args.graded, required=("question_id", "score"))]
    try:
        data = mmvet.score(records)
    except ValueError as exc:
        raise InputError(args.graded, str(exc)) from None
    rows = [[cap, v] for cap, v in data["capabilities"].items()] + [["total", data["total"]]]
    return data, format_table(["capability", "score"], rows, title="MM-Vet")

