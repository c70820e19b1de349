"""What a preference pair teaches, judged by ground truth (the micro-world, or COCO annotations).

A pair is only as good as the difference between its two answers. Per pair, against the image's true
objects (CHAIR's parser and ground truth):

* ``informative`` — the rejected answer names more absent objects than the chosen one: DPO is told to
  hallucinate less;
* ``inverted`` — the chosen answer names more absent objects: DPO is told to hallucinate *more*;
* ``uninformative`` — neither names an absent object: whatever DPO learns (an object instead of another,
  length, repetition) is not about hallucination;
* ``tied`` — both name the same number of absent objects (at least one).

The summary gives each kind's share and margin distribution, and chosen vs rejected length (words,
sentences), repetition (an object named in two sentences) and CHAIR (S, I, recall).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Iterable

KINDS = ("informative", "inverted", "uninformative", "tied")
SIDES = ("chosen", "rejected")


def repeated_objects(text: str, vocab) -> int:
    """How many times a response names, in a later sentence, an object an earlier sentence named."""
    from csr_eval.benchmarks.chair import caption_objects

    seen, repeats = set(), 0
    for sentence in re.split(r"(?<=\.)\s+", text.strip()):
        objects = set(caption_objects(sentence, vocab).node_words)
        repeats += len(objects & seen)
        seen |= objects
    return repeats


def pair_kind(chosen_hallucinated: int, rejected_hallucinated: int) -> str:
    if rejected_hallucinated > chosen_hallucinated:
        return "informative"
    if chosen_hallucinated > rejected_hallucinated:
        return "inverted"
    return "uninformative" if chosen_hallucinated == 0 else "tied"


def image_ids(annotation_dir: Path) -> dict[str, int]:
    ids = {}
    for path in Path(annotation_dir).glob("instances_*.json"):
        ids.update({im["file_name"]: im["id"] for im in json.loads(path.read_text(encoding="utf-8"))["images"]})
    return ids


def ground_truth(annotation_dir: str | Path):
    """File name → image id, and CHAIR's evaluator, of an annotation folder: read once for the oracle judge,
    the per-pair columns and the summary (cached by the files' paths and modification times)."""
    folder = Path(annotation_dir).resolve()
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.json")))
    return _load_ground_truth(str(folder), stamp)


@lru_cache(maxsize=4)
def _load_ground_truth(annotation_dir: str, stamp: tuple):
    from csr_eval.benchmarks.chair import ChairEvaluator

    return image_ids(Path(annotation_dir)), ChairEvaluator.from_coco_annotations(annotation_dir)


def _quartiles(values: list[float]) -> dict | None:
    if not values:
        return None
    if len(values) == 1:
        return {"n": 1, "mean": values[0], "q1": values[0], "median": values[0], "q3": values[0]}
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"n": len(values), "mean": statistics.mean(values), "q1": q1, "median": median, "q3": q3}


def annotate_pairs(rows: list[dict], annotation_dir: str | Path) -> list[dict]:
    """Add ground-truth columns to pair rows (in place, and returned): ``gt_<side>_hallucinated`` (absent
    object mentions), ``gt_<side>_objects`` (distinct present objects named), ``gt_kind``; rows whose image is
    not in the annotations get None. ``<side>_repeats`` needs no ground truth and is always filled."""
    ids, evaluator = ground_truth(annotation_dir)
    for row in rows:
        image_id = ids.get(Path(row["image"]).name)
        for side in SIDES:
            row[f"{side}_repeats"] = repeated_objects(row[side], evaluator.vocab)
            if image_id is None:
                row[f"gt_{side}_hallucinated"] = row[f"gt_{side}_objects"] = None
                continue
            result = evaluator.score_caption(image_id, row[side])
            row[f"gt_{side}_hallucinated"] = len(result.hallucinated)
            row[f"gt_{side}_objects"] = len(result.recalled)
        row["gt_kind"] = None if image_id is None else pair_kind(row["gt_chosen_hallucinated"],
                                                                 row["gt_rejected_hallucinated"])
    return rows


def summarize(rows: Iterable[dict], annotation_dir: str | Path | None = None) -> dict:
    """The diagnostics of one iteration's pairs (rows annotated by :func:`annotate_pairs`)."""
    rows = list(rows)
    words = {s: [len(r[s].split()) for r in rows] for s in SIDES}
    sentences = {s: [len(r[f"{s}_sentences"]) for r in rows] for s in SIDES}
    out = {"length": {s: {"words": statistics.mean(words[s]), "sentences": statistics.mean(sentences[s])}
                      for s in SIDES} if rows else {},
           "repeating_pairs": {s: sum(r.get(f"{s}_repeats", 0) > 0 for r in rows) / len(rows) for s in SIDES}
           if rows else {}}
    known = [r for r in rows if r.get("gt_kind") is not None]
    if not known:
        return out
    counts = Counter(r["gt_kind"] for r in known)
    out["kinds"] = {k: counts.get(k, 0) / len(known) for k in KINDS}
    out["margin"] = {k: _quartiles([r["margin"] for r in known if r["gt_kind"] == k]) for k in KINDS}
    out["pairs_scored"] = len(known)
    if annotation_dir is not None:
        ids, evaluator = ground_truth(annotation_dir)
        for side in SIDES:
            result = evaluator.score([(ids[Path(r["image"]).name], r[side]) for r in known])
            out[side] = {"chair_s": result.chair_s, "chair_i": result.chair_i, "recall": result.recall}
    return out


def _known(values) -> list[float]:
    return [v for v in values if v is not None and not math.isnan(v)]


def _mean(values) -> float | None:
    values = _known(values)
    return statistics.mean(values) if values else None


def _median(values) -> float | None:
    values = _known(values)
    return statistics.median(values) if values else None


def pair_statistics(rows: list[dict]) -> dict:
    """Table 10 / Figure 5 of the paper: mean R_I of chosen and rejected sentences, and lengths."""
    return {"chosen_r_i": _mean(s["r_i"] for r in rows for s in r["chosen_sentences"]),
            "rejected_r_i": _mean(s["r_i"] for r in rows for s in r["rejected_sentences"]),
            "chosen_sentences": _mean(len(r["chosen_sentences"]) for r in rows),
            "rejected_sentences": _mean(len(r["rejected_sentences"]) for r in rows),
            "margin": _mean(r["margin"] for r in rows),
            # where the chosen answers end: the model's own P(EOS) there (low: truncations it would not write)
            "chosen_end_prob": _median(r["chosen_sentences"][-1].get("end_prob") for r in rows
                                       if len(r["chosen_sentences"]))}


UNLIKELY_END = 0.5  # median P(EOS) where the chosen answers end, below which the pairs teach stopping early


def early_stop_warning(pair_stats: dict) -> str | None:
    """A warning when the chosen answers mostly end where the model would rather go on: DPO (and the SFT term)
    then teach it to stop early, and the loop feeds on itself (the micro-Qwen's collapse to one sentence)."""
    end = pair_stats.get("chosen_end_prob")
    if end is None or end >= UNLIKELY_END:
        return None
    return (f"the chosen answers end where the model would rather go on (median P(EOS) {end:.2f} < {UNLIKELY_END}): "
            "DPO will teach shorter answers; search.min_end_prob keeps only likelier ends (docs/micro-evidence.md)")

