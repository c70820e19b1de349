"""A ground-truth sentence judge: the control that tells a weak judge from a weak learning step.

Beyond the paper (``reward.kind: oracle``). Where the truth is known — the micro-world, or any image set with
COCO instance annotations — this judge takes R_I's place in Eq. 4, so the search, the pair rule and DPO stay
exactly as in a CLIP run. If oracle pairs cannot lower CHAIR, the limit is learning (DPO settings, data, the
model); if they can and CLIP pairs cannot, the limit is the judge or the pair rule.

The score of a sentence, in CLIP-like points, given the sentences before it in the same response::

    R_oracle(s) = 100 · (new present objects − 2 · absent objects − 0.5 · repeated objects)

with objects found by CHAIR's own parser (the same words CHAIR_S counts). Summed over a response
(``reward.aggregate: sum``) this is the response rule of the first oracle-vs-CLIP control: distinct true
objects named − 2 × absent named − 0.5 × repetitions. ``positions`` (micro-world only: a 3 × 3 grid) also
counts a present object stated at a cell where it is not as absent: a wrong statement, not a new fact.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from csr_eval.benchmarks.chair import caption_objects
from csr_eval.errors import InputError
from csr_train.pair_diagnostics import ground_truth
from csr_train.reward import CONFIRMED_STATEMENT as PRESENT
from csr_train.reward import REPEATED_STATEMENT as REPEATED
from csr_train.reward import SUSPECTED_HALLUCINATION as ABSENT

POSITION_WORDS = ("top left", "top right", "bottom left", "bottom right", "top", "bottom", "left", "right", "center")
GRID_CELLS = ("top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right")
_POSITION = re.compile(r"\b(?:at|in|on) the (" + "|".join(POSITION_WORDS) + r")\b")


@dataclass
class ImageTruth:
    """What the judge knows of one image: its objects (CHAIR's ground truth) and, for the micro-world, the
    grid cells each object occupies."""
    objects: frozenset[str]
    cells: dict[str, set[str]] = field(default_factory=dict)


def grid_cell(bbox: Sequence[float], width: float, height: float, grid: int = 3) -> str:
    """The cell name of a box's centre on a grid × grid layout (reading order)."""
    x, y, w, h = bbox
    col = min(grid - 1, int((x + w / 2) * grid // width))
    row = min(grid - 1, int((y + h / 2) * grid // height))
    return GRID_CELLS[row * grid + col]


class OracleJudge:
    """Sentence scores from ground truth, keyed by image file name."""

    def __init__(self, annotation_dir: str | Path, positions: bool = False):
        annotation_dir = Path(annotation_dir)
        files = sorted(annotation_dir.glob("instances_*.json"))
        if not files:
            raise InputError(annotation_dir, "reward.kind oracle needs COCO instances_*.json files here "
                                             "(field 'data.annotations')")
        self.positions = positions
        self._ids, self.chair = ground_truth(annotation_dir)  # shared with the pair diagnostics (read once)
        self._cells: dict[int, dict[str, set[str]]] = {}
        for path in files:  # where each object lies (the positions rule)
            data = json.loads(path.read_text(encoding="utf-8"))
            names = {c["id"]: c["name"] for c in data.get("categories", [])}
            sizes = {image["id"]: (image.get("width"), image.get("height")) for image in data.get("images", [])}
            for ann in data.get("annotations", []):
                width, height = sizes.get(ann["image_id"], (None, None))
                if width and height and ann.get("category_id") in names:
                    cell = grid_cell(ann["bbox"], width, height)
                    self._cells.setdefault(ann["image_id"], {}).setdefault(names[ann["category_id"]], set()).add(cell)

    def truth(self, image_path: str | Path) -> ImageTruth:
        name = Path(image_path).name
        if name not in self._ids:
            raise InputError(image_path, "image not in the oracle's annotations (field 'data.annotations')")
        image_id = self._ids[name]
        return ImageTruth(frozenset(self.chair.ground_truth.get(image_id, ())), self._cells.get(image_id, {}))

    def objects(self, text: str) -> list[str]:
        return caption_objects(text, self.chair.vocab).node_words

    def sentence_score(self, truth: ImageTruth, text: str, earlier: Sequence[str] = ()) -> float:
        """R_oracle(s) for a sentence given the earlier sentences of its response."""
        named_before = {o for sentence in earlier for o in self.objects(sentence)}
        stated = _POSITION.search(text.lower()) if self.positions else None
        score, seen = 0.0, set()
        for obj in self.objects(text):
            wrong_place = stated is not None and obj in truth.cells and stated[1] not in truth.cells[obj]
            if obj not in truth.objects or wrong_place:
                score += ABSENT
            elif obj in named_before or obj in seen:
                score += REPEATED
            else:
                score += PRESENT
            seen.add(obj)
        return score
