"""MME (Fu et al. 2023): yes/no questions, two per image, over 14 subtasks.

Reference: the official eval_tool ``calculation.py`` (BradyFU/Awesome-Multimodal-Large-Language-Models,
branch Evaluation):

* each line is ``image<TAB>question<TAB>ground truth<TAB>prediction``; the two questions of an image are
  consecutive lines;
* the prediction keeps its trailing newline and is lower-cased; an exact "yes"/"no" is taken as is,
  otherwise the first four characters are searched for "yes", then "no", else the answer is "other"
  (counted wrong). No strip: "yes\\n" is not exactly "yes" but its first four characters hold "yes";
  "not"/"none" read as no;
* accuracy over questions, accuracy+ over images (both answers right); subtask score = 100·acc + 100·acc+;
  perception = sum of 10 subtasks, cognition = sum of 4.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from csr_eval.benchmark import COMPREHENSIVE, MICRO, Benchmark, Column, ScoreCommand
from csr_eval.errors import InputError
from csr_eval.io import iter_lines
from csr_eval.report import format_table
from csr_eval.tasks import Judgement, PreparedTask, Request, Skipped, require_files

NAME = "mme"
PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
              "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


def parse_yes_no(prediction: str) -> str:
    """'yes', 'no' or 'other' by the official rule (the input is lower-cased first)."""
    pred = prediction.lower()
    if pred in ("yes", "no"):
        return pred
    head = pred[:4]
    if "yes" in head:
        return "yes"
    if "no" in head:
        return "no"
    return "other"


@dataclass
class MmeQuestion:
    image: str
    question: str
    answer: str  # ground truth, lower-cased
    prediction: str  # raw model output


@dataclass
class SubtaskScore:
    acc: float
    acc_plus: float
    score: float
    n_questions: int
    n_images: int
    other_num: int

    def to_dict(self) -> dict:
        return asdict(self)


def score_subtask(questions: Sequence[MmeQuestion]) -> SubtaskScore:
    """Score one subtask: questions come in image pairs, in file order."""
    if not questions or len(questions) % 2:
        raise ValueError(f"expected an even, non-zero number of questions (two per image), got {len(questions)}")
    parsed = [parse_yes_no(q.prediction) for q in questions]
    right = [p == q.answer for p, q in zip(parsed, questions)]
    pairs = [right[i] and right[i + 1] for i in range(0, len(right), 2)]
    acc = sum(right) / len(right)
    acc_plus = sum(pairs) / len(pairs)
    return SubtaskScore(acc=acc, acc_plus=acc_plus, score=100 * acc + 100 * acc_plus,
                        n_questions=len(right), n_images=len(pairs), other_num=parsed.count("other"))


def read_subtask_file(path: str | Path) -> list[MmeQuestion]:
    """Read one ``<subtask>.txt`` in the official results format."""
    out = []
    pair_image = None
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise InputError(path, f"expected 4 tab-separated fields (image, question, ground truth, "
                                   f"prediction), got {len(parts)}", number)
        image, question, gt, pred = parts
        gt = gt.strip().lower()
        if gt not in ("yes", "no"):
            raise InputError(path, f"ground truth must be Yes or No, got {parts[2]!r}", number)
        if len(out) % 2 == 0:
            pair_image = image
        elif image != pair_image:
            raise InputError(path, f"the two questions of an image must be consecutive: line {number} has "
                                   f"image {image!r} but the previous line has {pair_image!r}", number)
        out.append(MmeQuestion(image=image, question=question, answer=gt, prediction=pred))
    if not out:
        raise InputError(path, "file is empty")
    if len(out) % 2:
        raise InputError(path, f"odd number of questions ({len(out)}); MME has two per image")
    return out


@dataclass
class MmeResult:
    subtasks: dict[str, SubtaskScore]

    @property
    def perception(self) -> float:
        return sum(s.score for name, s in self.subtasks.items() if name in PERCEPTION)

    @property
    def cognition(self) -> float:
        return sum(s.score for name, s in self.subtasks.items() if name in COGNITION)

    def to_dict(self) -> dict:
        return {"perception": self.perception, "cognition": self.cognition,
                "subtasks": {name: s.score for name, s in self.subtasks.items()},
                "details": {name: s.to_dict() for name, s in self.subtasks.items()},
                "missing_subtasks": [n for n in PERCEPTION + COGNITION if n not in self.subtasks]}


def score_results_dir(results_dir: str | Path, require_all: bool = False) -> MmeResult:
    """Score every known ``<subtask>.txt`` in a folder (the ``csr-eval score mme`` contract)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(results_dir, "MME results folder not found")
    subtasks = {}
    for name in PERCEPTION + COGNITION:
        path = results_dir / f"{name}.txt"
        if path.is_file():
            subtasks[name] = score_subtask(read_subtask_file(path))
        elif require_all:
            raise InputError(path, f"subtask file missing (expected one file per subtask: "
                                   f"{', '.join(PERCEPTION + COGNITION)})")
    if not subtasks:
        raise InputError(results_dir, f"no subtask file found; expected files named <subtask>.txt for "
                                      f"subtasks {', '.join(PERCEPTION + COGNITION)}")
    return MmeResult(subtasks)


# -- running MME on a model (the csr-eval suite path) --------------------------------------------------
MME_SUFFIX = "\nAnswer the question using a single word or phrase."  # LLaVA's llava_mme.jsonl
MME_MAX_NEW_TOKENS = 128
HOW_TO_GET = ("MME is distributed by its authors on request (https://github.com/BradyFU/Awesome-Multimodal-"
              "Large-Language-Models/tree/Evaluation); set mme.questions to eval_tool/Your_Results and mme.images "
              "to MME_Benchmark_release_version in configs/data.yaml.")


def read_template_file(path: Path) -> list[tuple[str, str, str]]:
    """``image<TAB>question<TAB>answer`` lines of the official template (eval_tool/Your_Results)."""
    rows = []
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            raise InputError(path, f"expected image, question and answer separated by tabs, got {len(parts)} "
                                   "field(s)", number)
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def _image_path(images_dir: Path, subtask: str, image: str) -> Path:
    """MME keeps images in <subtask>/ or <subtask>/images/; the micro-world keeps them all in one folder."""
    for candidate in (images_dir / subtask / "images" / image, images_dir / subtask / image, images_dir / image):
        if candidate.is_file():
            return candidate
    return images_dir / subtask / image


def prepare(questions_dir: Path, images_dir: Path, limit: int | None = None, benchmark: str = NAME):
    """Requests for every subtask present (``limit`` images per subtask) and the official scorer."""
    questions_dir, images_dir = Path(questions_dir), Path(images_dir)
    require_files([questions_dir, images_dir], "MME data", HOW_TO_GET)
    subtasks = {n: read_template_file(questions_dir / f"{n}.txt") for n in PERCEPTION + COGNITION
                if (questions_dir / f"{n}.txt").is_file()}
    if not subtasks:
        raise Skipped(f"MME data not found: no <subtask>.txt in {questions_dir}. {HOW_TO_GET}")
    if limit is not None:
        subtasks = {n: rows[:2 * limit] for n, rows in subtasks.items()}
    requests = []
    for name, rows in subtasks.items():
        for i, (image, question, _) in enumerate(rows):
            prompt = question.replace(" Please answer yes or no.", "").replace("  Please answer yes or no.", "")
            requests.append(Request(f"{name}/{i}", _image_path(images_dir, name, image), prompt + MME_SUFFIX, name))

    def score(answers: dict[str, str]):
        scores, judged = {}, {}
        for name, rows in subtasks.items():
            questions = [MmeQuestion(image, question, gt.strip().lower(), answers[f"{name}/{i}"])
                         for i, (image, question, gt) in enumerate(rows)]
            scores[name] = score_subtask(questions)
            for i, q in enumerate(questions):
                parsed = parse_yes_no(q.prediction)
                judged[f"{name}/{i}"] = Judgement(parsed=parsed, correct=parsed == q.answer)
        return MmeResult(scores).to_dict(), judged

    settings = {"questions": str(questions_dir), "suffix": MME_SUFFIX, "limit_images_per_subtask": limit}
    return PreparedTask(benchmark, requests, MME_MAX_NEW_TOKENS, settings, score)


# -- what the toolkit knows about MME (the registry's entry) ------------------------------------------
@dataclass
class MmeData:
    questions: str = "MME/eval_tool/Your_Results"  # one <subtask>.txt per subtask: image<TAB>question<TAB>answer
    images: str = "MME/MME_Benchmark_release_version"


def headline(m) -> str:
    return f"perception {m['perception']:.1f}  cognition {m['cognition']:.1f}"


def _prepare(data, limit):
    return prepare(data.resolve(data.mme.questions), data.resolve(data.mme.images), limit)


def _prepare_micro(data, limit):
    world = data.micro_world()
    return prepare(world / "mme", world / "images" / "val", limit, benchmark="micro_mme")


def _score_arguments(p) -> None:
    p.add_argument("--results-dir", required=True, type=Path)
    p.add_argument("--require-all", action="store_true", help="fail when any of the 14 subtask files is missing")


def _score_files(args) -> tuple[dict, str]:
    result = score_results_dir(args.results_dir, args.require_all)
    data = result.to_dict()
    rows = [[name, s.acc, s.acc_plus, s.score, s.other_num] for name, s in result.subtasks.items()]
    table = format_table(["subtask", "acc", "acc+", "score", "other"], rows, title="MME (calculation.py rules)")
    extra = f"\nperception: {result.perception:.2f}   cognition: {result.cognition:.2f}"
    if data["missing_subtasks"]:
        extra += f"\nmissing subtasks (not counted): {', '.join(data['missing_subtasks'])}"
    return data, table + extra


# the paper's aggregate divides perception by 16 and cognition by 4 (CSR §4.2; reproduces its Table 2 and 10)
PERCEPTION_COLUMN = Column("MME_P", "MME^P", lambda m: m["perception"], paper_column="MME_P",
                           normalise=lambda v: v / 16)
COGNITION_COLUMN = Column("MME_C", "MME^C", lambda m: m["cognition"], paper_column="MME_C",
                          normalise=lambda v: v / 4)
SCORE = ScoreCommand("MME as the official eval_tool calculation.py: --results-dir holds <subtask>.txt files with "
                     "lines image<TAB>question<TAB>ground truth<TAB>prediction, two consecutive lines per image.",
                     _score_arguments, _score_files)
BENCHMARKS = (
    Benchmark(NAME, "MME", COMPREHENSIVE, 0, (PERCEPTION_COLUMN, COGNITION_COLUMN), _prepare, MmeData, headline,
              SCORE),
    Benchmark("micro_mme", "MME (micro-world)", MICRO, 2, (PERCEPTION_COLUMN.renamed("micro_MME_P", "µMME^P"),),
              _prepare_micro, headline=headline),
)
