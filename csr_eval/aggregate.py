"""The paper's aggregate score (CSR §4.2, Figure 3, Tables 2 and 10): one 100-point number over the benchmarks
present.

MME perception is divided by 16 and cognition by 4 (their numbers of subtasks), CHAIR_S and CHAIR_I
become 100 − value so that every column is higher-is-better, the other benchmarks are taken as they are
(in percent), and the columns present are averaged. The set of columns averaged is always returned with
the number, because an average over a different set is a different number.

Which columns exist, their units and normalisation are the benchmarks' own (``Column`` in each benchmark
module, collected by :mod:`csr_eval.benchmarks`). POPE enters as accuracy (mean over the three splits): the
paper's averages are reproduced to the last digit only with Table 7's ``POPEacc`` column (Table 6 + 7 base rows → 66.61 for 7B and 68.08 for 13B, the
"Base" of Table 2 and the first "Avg performance score" of Table 10; F1 gives 66.47 and 67.99), checked by
``tests/leaderboard/test_reported_data.py``. (The paper's base POPEacc, 85.9, equals LLaVA-1.5's published
POPE F1; we follow the column the paper names.)
"""

from __future__ import annotations

from typing import Mapping

from csr_eval import benchmarks


def _paper_columns(metrics: Mapping[str, Mapping]):
    """The registered columns that count in the aggregate, of the benchmarks present in ``metrics``, in the
    paper's column order (a micro-world column sits where the column it imitates sits)."""
    every = benchmarks.columns()
    position = {}
    for i, c in enumerate(every):
        position.setdefault(c.paper_column, i)
    present = [c for c in every if c.paper_column is not None and metrics.get(c.benchmark)]
    return sorted(present, key=lambda c: position[c.paper_column])


def normalize(column: str, value: float) -> float:
    """A paper column's value (in the paper's units) on the 100-point higher-is-better scale."""
    for c in benchmarks.columns():
        if c.paper_column == column:
            return float(c.normalise(value))
    raise KeyError(f"no registered benchmark has the paper column {column!r}")


def paper_units(metrics: Mapping[str, Mapping]) -> dict[str, float]:
    """Every paper column whose benchmark has metrics, in the units the paper prints (MME points, percent).

    ``metrics`` maps benchmark names to their metrics: the real benchmarks, or the micro-world's (whose
    columns count as the paper columns they imitate) — never both in one call.
    """
    out = {}
    for c in _paper_columns(metrics):
        try:
            out[c.paper_column] = float(c.value(metrics[c.benchmark]))
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
    if b == 0:  # no relative change from zero: a gap, not a crash
        return {"improvement_percent": None, "score": a, "base_score": b, "columns": list(shared)}
    return {"improvement_percent": 100 * (a - b) / b, "score": a, "base_score": b, "columns": list(shared)}


def improvement_over(metrics: Mapping[str, Mapping], base_metrics: Mapping[str, Mapping]) -> dict:
    """% improvement of the aggregate over a base model, on the columns both have (named in the result)."""
    return improvement_percent(normalized_columns(metrics), normalized_columns(base_metrics))
