"""The evidence table of docs/micro-evidence.md (paper Tables 2, 7 and 10 in the micro-world), from finished runs.

``csr-train evidence --group CSR=RUN1,RUN2,RUN3 --group Only-R_T=RUN4 ...`` prints a Markdown table: for
each method and iteration, mean ± std over its runs (seeds) of micro POPE accuracy and F1 per split, micro
CHAIR_S / CHAIR_I / object recall / mean length, the mean R_I of chosen and rejected sentences, and the
ground-truth CHAIR_S of chosen and rejected responses (the micro-world knows which objects are there), the
shares of informative, inverted and uninformative pairs (``csr_train/pair_diagnostics.py``), and
how often chosen and rejected responses name the same object in two sentences (a repetition: CLIP scores a
sentence about a present object highly wherever it says the object is, so repetitions score well).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from csr_eval.benchmarks.pope import TABLE_ORDER
from csr_train.pair_diagnostics import repeated_objects
from csr_train.run_dir import STATE_FILE, RunDirectory

SPLITS = TABLE_ORDER


def repeats_an_object(text: str, vocab) -> bool:
    """True when two sentences of the response name the same COCO object (CHAIR's parser)."""
    return repeated_objects(text, vocab) > 0


def _repetition(run: Path, t: int) -> dict:
    path = RunDirectory(run).pairs_file(t)
    if not path.is_file():
        return {}
    import pyarrow.parquet as pq

    stored = {f"{side}_repeats" for side in ("chosen", "rejected")}
    if stored <= set(pq.read_schema(path).names):  # counted when the pairs were curated
        rows = pq.read_table(path, columns=sorted(stored)).to_pylist()
        return {f"repeat {side}": 100 * sum(r[f"{side}_repeats"] > 0 for r in rows) / len(rows)
                for side in ("chosen", "rejected")}
    from csr_eval.benchmarks.chair import CocoObjectVocabulary  # imports nltk, and with it pandas

    vocab = CocoObjectVocabulary.reference()
    rows = pq.read_table(path, columns=["chosen", "rejected"]).to_pylist()
    return {f"repeat {side}": 100 * sum(repeats_an_object(r[side], vocab) for r in rows) / len(rows)
            for side in ("chosen", "rejected")}


def _metrics(entry: dict) -> dict:
    out = {}
    evaluation = entry.get("eval", {}).get("summary", {})
    pope, chair = evaluation.get("micro_pope", {}), evaluation.get("micro_chair", {})
    for split in SPLITS:
        if split in pope:
            out[f"POPE {split[:3]} acc"] = 100 * pope[split]["accuracy"]
            out[f"POPE {split[:3]} F1"] = 100 * pope[split]["f1"]
    if all(split in pope for split in SPLITS):  # issue 14's preservation target: the mean over the three splits
        out["POPE F1 mean"] = statistics.mean(100 * pope[split]["f1"] for split in SPLITS)
    for key, name in (("chair_s", "CHAIR_S"), ("chair_i", "CHAIR_I"), ("recall", "recall")):
        if key in chair:
            out[name] = 100 * chair[key]
    if "mean_length" in chair:
        out["len"] = chair["mean_length"]
    pairs = entry.get("pairs", {}).get("summary", {})
    if pairs.get("chosen_r_i") is not None:
        out["R_I chosen"], out["R_I rejected"] = pairs["chosen_r_i"], pairs["rejected_r_i"]
    if pairs.get("chosen_end_prob") is not None:  # in percent: the median P(EOS) where chosen answers end
        out["P(end) chosen"] = 100 * pairs["chosen_end_prob"]
    truth = pairs.get("ground_truth", {})
    if truth:
        out["GT CHAIR_S chosen"] = 100 * truth["chosen"]["chair_s"]
        out["GT CHAIR_S rejected"] = 100 * truth["rejected"]["chair_s"]
    for kind, share in truth.get("kinds", {}).items():  # pair_diagnostics: what the pairs teach
        out[f"pairs {kind}"] = 100 * share
    return out


COLUMNS = ("POPE ran acc", "POPE ran F1", "POPE pop acc", "POPE pop F1", "POPE adv acc", "POPE adv F1",
           "POPE F1 mean", "CHAIR_S", "CHAIR_I", "recall", "len", "R_I chosen", "R_I rejected", "P(end) chosen",
           "GT CHAIR_S chosen", "GT CHAIR_S rejected", "pairs informative", "pairs inverted", "pairs uninformative",
           "repeat chosen", "repeat rejected")


def _cell(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def evidence_table(groups: dict[str, list[Path]], columns: tuple[str, ...] = COLUMNS) -> str:
    """The Markdown table; ``columns`` picks and orders a subset of :data:`COLUMNS` (a compact table)."""
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; expected some of: {', '.join(COLUMNS)}")
    lines = ["| method | model | runs | " + " | ".join(columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for label, runs in groups.items():
        states = []
        for run in runs:
            path = Path(run) / STATE_FILE
            if not path.is_file():
                raise FileNotFoundError(f"{run}: not a csr-train run directory ({STATE_FILE} missing)")
            states.append(json.loads(path.read_text(encoding="utf-8")))
        iterations = sorted({int(k) for s in states for k in s["iterations"]})
        for t in iterations:
            # only runs that finished the iteration (its evaluation done): a run still training it would
            # give the pair columns one more value than the evaluation columns under one "runs" count
            rows = [{**_metrics(s["iterations"][str(t)]), **_repetition(run, t)} for s, run in zip(states, runs)
                    if s["iterations"].get(str(t), {}).get("eval", {}).get("done")]
            rows = [r for r in rows if r]
            if not rows:
                continue
            cells = [_cell([r[c] for r in rows if c in r]) for c in columns]
            lines.append(f"| {label} | {'base' if t == 0 else f'iter{t}'} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
