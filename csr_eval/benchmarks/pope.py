"""POPE (Li et al., EMNLP 2023): polling-based object probing, "Is there a {object} in the image?".

Reference: RUCAIBox/POPE ``evaluate.py`` and LLaVA ``llava/eval/eval_pope.py`` (identical logic):

* keep the text before the first '.', drop commas, split on single spaces;
* the answer is "no" when 'No', 'not' or 'no' is one of those words, otherwise "yes" (so "NO", "Not",
  "n't" and an empty answer are yes: case-sensitive whole-word matching, as the reference);
* per split TP/FP/TN/FN with yes as the positive class, accuracy, precision, recall, F1 and yes-ratio =
  share of *predicted* yes (lmms-eval's ``pope_yes_ratio`` counts labels instead and is always 0.5).

Difference from the reference: answers are matched to labels by question id and split, never by file
position. LLaVA's question file numbers questions across splits; the k-th question of a split is line k
of that split's label file, and we check that the question texts agree, so a shifted or shuffled answer
file is an error instead of a wrong score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from csr_eval.benchmark import HALLUCINATION, MICRO, Benchmark, Column, ScoreCommand
from csr_eval.errors import InputError
from csr_eval.io import read_jsonl
from csr_eval.lmms.run import lmms_answers
from csr_eval.report import format_table
from csr_eval.tasks import Judgement, PreparedTask, Request, require_files, take

NAME = "pope"
SPLITS = ("adversarial", "popular", "random")  # the reference eval_pope.py's order: metrics and files
TABLE_ORDER = ("random", "popular", "adversarial")  # the paper's tables, our printouts and the aggregate
QUESTION_TEMPLATE = "Is there a {object} in the image?"


def parse_yes_no(answer: str) -> bool:
    """True for yes, False for no, by the POPE/LLaVA rule."""
    text = answer
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return not any(word in ("No", "not", "no") for word in words)


@dataclass
class PopeMetrics:
    tp: int
    fp: int
    tn: int
    fn: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    yes_ratio: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def confusion_metrics(labels: Sequence[bool], predictions: Sequence[bool]) -> PopeMetrics:
    """Binary metrics with yes as positive; undefined ratios (0/0) are 0, as a score must be a number."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    if not labels:
        raise ValueError("no questions to score")
    tp = sum(1 for y, p in zip(labels, predictions) if y and p)
    fp = sum(1 for y, p in zip(labels, predictions) if not y and p)
    tn = sum(1 for y, p in zip(labels, predictions) if not y and not p)
    fn = sum(1 for y, p in zip(labels, predictions) if y and not p)
    n = len(labels)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PopeMetrics(tp=tp, fp=fp, tn=tn, fn=fn, accuracy=(tp + tn) / n, precision=precision,
                       recall=recall, f1=f1, yes_ratio=(tp + fp) / n, n=n)


@dataclass
class PopeLabel:
    question_id: int
    image: str
    text: str
    label: bool
    line: int


def load_labels(path: str | Path) -> list[PopeLabel]:
    """Read a POPE label file (``coco_pope_<split>.json``: JSON lines despite the name)."""
    rows = read_jsonl(path, required=("question_id", "text", "label"))
    out, seen = [], {}
    for number, obj in rows:
        label = str(obj["label"]).strip().lower()
        if label not in ("yes", "no"):
            raise InputError(path, f"'label' must be 'yes' or 'no', got {obj['label']!r}", number)
        qid = obj["question_id"]
        if qid in seen:
            raise InputError(path, f"duplicate question_id {qid} (first on line {seen[qid]})", number)
        seen[qid] = number
        out.append(PopeLabel(qid, str(obj.get("image", "")), str(obj["text"]), label == "yes", number))
    return out


@dataclass
class PopeResult:
    splits: dict[str, PopeMetrics]
    coverage: dict[str, float]  # answered / asked per split (1.0 unless --allow-missing)

    @property
    def mean_f1(self) -> float:
        return sum(m.f1 for m in self.splits.values()) / len(self.splits)

    def to_dict(self) -> dict:
        out: dict = {split: m.to_dict() for split, m in self.splits.items()}
        out["mean_f1"] = self.mean_f1
        if any(c < 1.0 for c in self.coverage.values()):
            out["coverage"] = dict(self.coverage)
        return out


def score_files(annotation_dir: str | Path, question_file: str | Path, result_file: str | Path,
                splits: Iterable[str] | None = None, allow_missing: bool = False) -> PopeResult:
    """Score LLaVA-format POPE answers (the ``csr-eval score pope`` contract, as ``eval_pope.py``).

    ``question_file``: jsonl with ``question_id``, ``category`` (the split) and ``text``;
    ``result_file``: jsonl with ``question_id`` and ``text`` (the answer).
    """
    annotation_dir = Path(annotation_dir)
    questions = read_jsonl(question_file, required=("question_id", "category"))
    answers = read_jsonl(result_file, required=("question_id", "text"))

    by_split: dict[str, list[tuple[int, dict]]] = {}
    seen_q: dict = {}
    for number, q in questions:
        qid = q["question_id"]
        if qid in seen_q:
            raise InputError(question_file, f"duplicate question_id {qid} (first on line {seen_q[qid]})", number)
        seen_q[qid] = number
        by_split.setdefault(str(q["category"]), []).append((number, q))

    answer_of: dict = {}
    for number, a in answers:
        qid = a["question_id"]
        if qid not in seen_q:
            raise InputError(result_file, f"question_id {qid!r} is not in the question file {question_file}", number)
        if qid in answer_of:
            raise InputError(result_file, f"duplicate answer for question_id {qid!r} (first on line "
                                          f"{answer_of[qid][0]})", number)
        if not isinstance(a["text"], str):
            raise InputError(result_file, f"'text' must be a string, got {type(a['text']).__name__}", number)
        answer_of[qid] = (number, a["text"])

    wanted = list(splits) if splits is not None else [s for s in SPLITS if s in by_split]
    if not wanted:
        raise InputError(question_file, f"no question has a 'category' among {', '.join(SPLITS)}")
    results, coverage = {}, {}
    for split in wanted:
        label_path = annotation_dir / f"coco_pope_{split}.json"
        if not label_path.is_file():
            raise InputError(label_path, f"label file for split {split!r} not found")
        labels = load_labels(label_path)
        split_questions = by_split.get(split, [])
        if len(split_questions) != len(labels):
            raise InputError(question_file, f"split {split!r} has {len(split_questions)} questions but "
                                            f"{label_path} has {len(labels)} labels; the label file "
                                            f"generation (2023-08 vs current) must match the question file")
        y, pred = [], []
        for (number, q), label in zip(split_questions, labels):
            text = str(q.get("text", ""))
            if text and not text.startswith(label.text):
                raise InputError(question_file, f"question {q['question_id']} ({text.splitlines()[0]!r}) does "
                                                f"not match line {label.line} of {label_path} "
                                                f"({label.text!r})", number)
            if q["question_id"] not in answer_of:
                if allow_missing:
                    continue
                raise InputError(result_file, f"no answer for question_id {q['question_id']} (split {split}, "
                                              f"line {number} of {question_file}); pass --allow-missing to "
                                              f"score the answered questions and report coverage")
            y.append(label.label)
            pred.append(parse_yes_no(answer_of[q["question_id"]][1]))
        if not y:
            raise InputError(result_file, f"no answers for split {split!r}")
        results[split] = confusion_metrics(y, pred)
        coverage[split] = len(y) / len(labels)
    return PopeResult(splits=results, coverage=coverage)


# -- running POPE on a model (the csr-eval suite path) -------------------------------------------------
POPE_SUFFIX = "\nAnswer the question using a single word or phrase."  # LLaVA's llava_pope_test.jsonl
POPE_MAX_NEW_TOKENS = 128  # LLaVA's model_vqa_loader default
HOW_TO_GET = ("Get coco_pope_{random,popular,adversarial}.json from https://github.com/AoiDragon/POPE "
              "(output/coco) and the COCO val2014 images from https://cocodataset.org, and set their folders in "
              "configs/data.yaml (pope.labels, pope.images).")


def prepare(labels_dir: Path, images_dir: Path, limit: int | None = None, benchmark: str = NAME):
    """Requests for the three splits (``limit`` questions per split) and their scorer."""
    files = {split: Path(labels_dir) / f"coco_pope_{split}.json" for split in SPLITS}
    require_files([Path(images_dir), *files.values()], "POPE data", HOW_TO_GET)
    labels = {split: take(load_labels(path), limit) for split, path in files.items()}
    requests = [Request(f"{split}/{q.question_id}", Path(images_dir) / q.image, q.text + POPE_SUFFIX, split)
                for split, rows in labels.items() for q in rows]

    def score(answers: dict[str, str]):
        splits, judged = {}, {}
        for split, rows in labels.items():
            predictions = [parse_yes_no(answers[f"{split}/{q.question_id}"]) for q in rows]
            splits[split] = confusion_metrics([q.label for q in rows], predictions)
            for q, p in zip(rows, predictions):
                judged[f"{split}/{q.question_id}"] = Judgement(parsed="yes" if p else "no", correct=p == q.label)
        return PopeResult(splits, {s: 1.0 for s in splits}).to_dict(), judged

    settings = {"labels": str(labels_dir), "suffix": POPE_SUFFIX, "limit_per_split": limit}
    return PreparedTask(benchmark, requests, POPE_MAX_NEW_TOKENS, settings, score)


# -- what the toolkit knows about POPE (the registry's entry) -----------------------------------------
@dataclass
class PopeData:
    labels: str = "pope/coco"  # coco_pope_{random,popular,adversarial}.json from POPE's repository
    images: str = "coco/val2014"


def pope_accuracy(metrics) -> float:
    """Mean accuracy over the splits present, in percent: the paper's ``POPEacc`` column (see aggregate)."""
    splits = [metrics[s]["accuracy"] for s in TABLE_ORDER if s in metrics]
    if not splits:
        raise KeyError("accuracy")
    return 100 * sum(splits) / len(splits)


def headline(m) -> str:
    return "F1 " + " / ".join(f"{s} {100 * m[s]['f1']:.2f}" for s in TABLE_ORDER) + f"; mean {100 * m['mean_f1']:.2f}"


def _prepare(data, limit):
    return prepare(data.resolve(data.pope.labels), data.resolve(data.pope.images), limit)


def _prepare_micro(data, limit):
    world = data.micro_world()
    return prepare(world / "pope", world / "images" / "val", limit, benchmark="micro_pope")


def _prepare_micro_lmms(data, limit):
    """The micro-world's POPE answered through lmms-eval (our model class, a task from our task folder)."""

    world = data.micro_world()
    task = prepare(world / "pope", world / "images" / "val", limit, benchmark="micro_pope_lmms")
    labels = {f"{split}/{q.question_id}": "yes" if q.label else "no" for split in SPLITS
              for q in load_labels(world / "pope" / f"coco_pope_{split}.json")}

    def generate(runner, requests, generation):
        docs = [{"sample_id": r.sample_id, "question": r.prompt.removesuffix(POPE_SUFFIX),
                 "answer": labels[r.sample_id], "image": str(r.image.resolve())} for r in requests]
        answers = lmms_answers(runner, "micro_pope_lmms", docs, generation.seed)
        return [answers[r.sample_id] for r in requests]

    task.generate = generate
    task.settings["path"] = "lmms-eval 0.7.3, task micro_pope_lmms"
    return task


def _score_arguments(p) -> None:
    p.add_argument("--annotation-dir", required=True, type=Path)
    p.add_argument("--question-file", required=True, type=Path)
    p.add_argument("--result-file", required=True, type=Path)
    p.add_argument("--splits", nargs="+", choices=SPLITS, help="default: every split in the question file")
    p.add_argument("--allow-missing", action="store_true",
                   help="score the answered questions and report coverage instead of failing")


def _score_files(args) -> tuple[dict, str]:
    result = score_files(args.annotation_dir, args.question_file, args.result_file, args.splits, args.allow_missing)
    rows = [[split] + [m.tp, m.fp, m.tn, m.fn, m.accuracy, m.precision, m.recall, m.f1, m.yes_ratio,
                       result.coverage[split]] for split, m in result.splits.items()]
    table = format_table(["split", "TP", "FP", "TN", "FN", "acc", "prec", "recall", "F1", "yes", "coverage"],
                         rows, title="POPE (eval_pope.py rules)")
    return result.to_dict(), table + f"\nmean F1: {100 * result.mean_f1:.2f}"


ACCURACY = Column("POPE", "POPE acc", pope_accuracy, True, 2, paper_column="POPE",
                  per_split=lambda m, split: 100 * m[split]["accuracy"])
F1 = Column("POPE_F1", "POPE F1", lambda m: 100 * m["mean_f1"], True, 2, per_split=lambda m, split: 100 * m[split]["f1"])
SCORE = ScoreCommand("POPE as LLaVA's eval_pope.py: label files coco_pope_{adversarial,popular,random}.json (jsonl: "
                     "question_id, text, label) in --annotation-dir; --question-file jsonl with question_id and "
                     "category (the split); --result-file jsonl with question_id and text.",
                     _score_arguments, _score_files)
BENCHMARKS = (
    Benchmark(NAME, "POPE", HALLUCINATION, 0, (ACCURACY, F1), _prepare, PopeData, headline, SCORE),
    Benchmark("micro_pope", "POPE (micro-world)", MICRO, 0,
              (ACCURACY.renamed("micro_POPE", "µPOPE acc"), F1.renamed("micro_POPE_F1", "µPOPE F1")),
              _prepare_micro, headline=headline),
    Benchmark("micro_pope_lmms", "POPE (micro-world, through lmms-eval)", MICRO, 9, (), _prepare_micro_lmms,
              headline=headline, in_suite=False),
)
