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

from csr_eval.errors import InputError
from csr_eval.io import iter_lines

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
