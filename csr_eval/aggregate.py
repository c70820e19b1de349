"""The paper's aggregate score (CSR §4.2, Figure 3, Tables 2 and 10): one 100-point number over the benchmarks
present.

MME perception is divided by 16 and cognition by 4 (their numbers of subtasks), CHAIR_S and CHAIR_I
become 100 − value so that every column is higher-is-better, the other benchmarks are taken as they are
(in percent), and the columns present are averaged. The set of columns averaged is always returned with
the number, because an average over a different set is a different number.

POPE enters as accuracy (mean over the three splits): the paper's averages are reproduced to the last
digit only with Table 7's ``POPEacc`` column (Table 6 + 7 base rows → 66.61 for 7B and 68.08 for 13B, the
"Base" of Table 2 and the first "Avg performance score" of Table 10; F1 gives 66.47 and 67.99), checked by
``tests/leaderboard/test_reported_data.py``. (The paper's base POPEacc, 85.9, equals LLaVA-1.5's published
POPE F1; we follow the column the paper names.)
"""

from __future__ import annotations

from typing import Callable, Mapping

from csr_eval.benchmarks.pope import TABLE_ORDER

POPE_SPLITS = TABLE_ORDER


def pope_accuracy(metrics: Mapping) -> float:
    """Mean accuracy over the POPE splits present, in percent."""
    splits = [metrics[s]["accuracy"] for s in POPE_SPLITS if s in metrics]
    if not splits:
        raise KeyError("accuracy")
    return 100 * sum(splits) / len(splits)


# Paper column -> (benchmark, that benchmark's metrics -> the value in the paper's own units).
PAPER_UNITS: dict[str, tuple[str, Callable[[Mapping], float]]] = {
    "MME_P": ("mme", lambda m: m["perception"]),
    "MME_C": ("mme", lambda m: m["cognition"]),
    "SEED": ("seed", lambda m: 100 * m["accuracy"]),
    "LLaVA_W": ("llava_wild", lambda m: m["relative"]),
    "MMB": ("mmbench", lambda m: 100 * m["circular_accuracy"]),
    "MM-Vet": ("mmvet", lambda m: m["total"]),
    "SQA_I": ("sqa", lambda m: 100 * m["img_accuracy"]),
    "VizWiz": ("vizwiz", lambda m: 100 * m["accuracy"]),
    "GQA": ("gqa", lambda m: 100 * m["accuracy"]),
    "POPE": ("pope", pope_accuracy),
    "CHAIR_S": ("chair", lambda m: 100 * m["chair_s"]),
    "CHAIR_I": ("chair", lambda m: 100 * m["chair_i"]),
}
# The paper's normalisation of a column onto a 100-point, higher-is-better scale.
_NORMALISE: dict[str, Callable[[float], float]] = {
    "MME_P": lambda v: v / 16, "MME_C": lambda v: v / 4,
    "CHAIR_S": lambda v: 100 - v, "CHAIR_I": lambda v: 100 - v,
}
GROUPS = {
    "comprehensive": ("MME_P", "MME_C", "SEED", "LLaVA_W", "MMB", "MM-Vet"),
    "vqa": ("SQA_I", "VizWiz", "GQA"),
    "hallucination": ("POPE", "CHAIR_S", "CHAIR_I"),
}


def normalize(column: str, value: float) -> float:
    """A paper column's value (in the paper's units) on the 100-point higher-is-better scale."""
    return float(_NORMALISE.get(column, lambda v: v)(value))


def paper_units(metrics: Mapping[str, Mapping]) -> dict[str, float]:
    """Every paper column whose benchmark has metrics, in the units the paper prints (MME points, percent)."""
    out = {}
    for column, (benchmark, value) in PAPER_UNITS.items():
        if metrics.get(benchmark):
            try:
                out[column] = float(value(metrics[benchmark]))
            except (KeyError, TypeError):  # a partial metrics dict: the column is a gap, not a zero
                continue
    return out


def normalized_columns(metrics: Mapping[str, Mapping]) -> dict[str, float]:
    """100-point, higher-is-better value of every paper column whose benchmark has metrics.

    ``metrics`` maps a benchmark name (as in ``csr-eval score``: pope, chair, mme, ...) to its metrics.
    """
    return {column: normalize(column, value) for column, value in paper_units(metrics).items()}


def average_of(values: Mapping[str, float], columns: tuple[str, ...] | None = None) -> dict:
    """``{"score": mean, "columns": [...], "values": {...}}`` of normalised values; None when none present."""
    if columns is not None:
        values = {c: v for c, v in values.items() if c in columns}
    score = sum(values.values()) / len(values) if values else None
    return {"score": score, "columns": list(values), "values": dict(values)}


def aggregate_score(metrics: Mapping[str, Mapping], columns: tuple[str, ...] | None = None) -> dict:
    """The paper's average over the columns present (or the given subset), with the columns named."""
    return average_of(normalized_columns(metrics), columns)


def improvement_percent(ours: Mapping[str, float], base: Mapping[str, float]) -> dict:
    """% improvement of the average of normalised values over a base, on the columns both have."""
    shared = tuple(c for c in ours if c in base)
    if not shared:
        return {"improvement_percent": None, "columns": []}
    a = sum(ours[c] for c in shared) / len(shared)
    b = sum(base[c] for c in shared) / len(shared)
    return {"improvement_percent": 100 * (a - b) / b, "score": a, "base_score": b, "columns": list(shared)}


def improvement_over(metrics: Mapping[str, Mapping], base_metrics: Mapping[str, Mapping]) -> dict:
    """% improvement of the aggregate over a base model, on the columns both have (named in the result)."""
    return improvement_percent(normalized_columns(metrics), normalized_columns(base_metrics))
