"""The paper's aggregate score (CSR §4.2, Figure 3): one 100-point number over the benchmarks present.

MME perception is divided by 16 and cognition by 4 (their numbers of subtasks), CHAIR_S and CHAIR_I
become 100 − value so that every column is higher-is-better, the other benchmarks are taken as they are
(in percent), and the columns present are averaged. The set of columns averaged is always returned with
the number, because an average over a different set is a different number.
"""

from __future__ import annotations

from typing import Callable, Mapping

# Paper column -> (benchmark, function of that benchmark's metrics giving the 100-point value).
PAPER_COLUMNS: dict[str, tuple[str, Callable[[Mapping], float]]] = {
    "MME_P": ("mme", lambda m: m["perception"] / 16),
    "MME_C": ("mme", lambda m: m["cognition"] / 4),
    "SEED": ("seed", lambda m: 100 * m["accuracy"]),
    "LLaVA_W": ("llava_wild", lambda m: m["relative"]),
    "MMB": ("mmbench", lambda m: 100 * m["circular_accuracy"]),
    "MM-Vet": ("mmvet", lambda m: m["total"]),
    "SQA_I": ("sqa", lambda m: 100 * m["img_accuracy"]),
    "VizWiz": ("vizwiz", lambda m: 100 * m["accuracy"]),
    "GQA": ("gqa", lambda m: 100 * m["accuracy"]),
    "POPE": ("pope", lambda m: 100 * m["mean_f1"]),
    "CHAIR_S": ("chair", lambda m: 100 - 100 * m["chair_s"]),
    "CHAIR_I": ("chair", lambda m: 100 - 100 * m["chair_i"]),
}
GROUPS = {
    "comprehensive": ("MME_P", "MME_C", "SEED", "LLaVA_W", "MMB", "MM-Vet"),
    "vqa": ("SQA_I", "VizWiz", "GQA"),
    "hallucination": ("POPE", "CHAIR_S", "CHAIR_I"),
}


def normalized_columns(metrics: Mapping[str, Mapping]) -> dict[str, float]:
    """100-point, higher-is-better value of every paper column whose benchmark has metrics.

    ``metrics`` maps a benchmark name (as in ``csr-eval score``: pope, chair, mme, ...) to its metrics.
    """
    out = {}
    for column, (benchmark, value) in PAPER_COLUMNS.items():
        if benchmark in metrics and metrics[benchmark]:
            out[column] = float(value(metrics[benchmark]))
    return out


def aggregate_score(metrics: Mapping[str, Mapping], columns: tuple[str, ...] | None = None) -> dict:
    """``{"score": mean, "columns": [...], "values": {...}}``; score is None when nothing is present."""
    values = normalized_columns(metrics)
    if columns is not None:
        values = {c: v for c, v in values.items() if c in columns}
    score = sum(values.values()) / len(values) if values else None
    return {"score": score, "columns": list(values), "values": values}


def improvement_over(metrics: Mapping[str, Mapping], base_metrics: Mapping[str, Mapping]) -> dict:
    """% improvement of the aggregate over a base model, on the columns both have (named in the result)."""
    ours, base = normalized_columns(metrics), normalized_columns(base_metrics)
    shared = tuple(c for c in ours if c in base)
    if not shared:
        return {"improvement_percent": None, "columns": []}
    a = sum(ours[c] for c in shared) / len(shared)
    b = sum(base[c] for c in shared) / len(shared)
    return {"improvement_percent": 100 * (a - b) / b, "score": a, "base_score": b, "columns": list(shared)}
