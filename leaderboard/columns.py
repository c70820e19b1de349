"""The leaderboard's columns: every registered benchmark's columns (:mod:`csr_eval.benchmarks`), grouped as the
paper's Table 1 (Comprehensive / General VQA / Hallucination), then the micro-world's, then any other group.

The columns are the benchmarks' own ``Column`` objects, so the table, the aggregate and ``csr-eval``'s report
can never disagree on what a column means; only the group titles are the dashboard's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from csr_eval import benchmark, benchmarks
from csr_eval.benchmark import Column
from csr_eval.benchmarks.pope import TABLE_ORDER as POPE_SPLITS

TITLES = dict(zip(benchmark.GROUP_ORDER, ("Comprehensive Benchmark", "General VQA", "Hallucination Benchmark",
                                          "Micro-world (offline; not comparable with the paper)")))
COMPREHENSIVE, VQA, HALLUCINATION, MICRO = TITLES.values()
ALL_SPLITS = "mean of splits"


def _titled(column: Column) -> Column:
    return replace(column, group=TITLES.get(column.group, column.group))


def columns_for(benchmarks_shown: set[str] | None = None) -> list[Column]:
    """The columns of the given benchmarks (all when None), in the paper's order, with group titles."""
    return [_titled(c) for c in benchmarks.columns() if benchmarks_shown is None or c.benchmark in benchmarks_shown]


def by_key() -> dict[str, Column]:
    return {c.key: c for c in columns_for(None)}


def groups() -> list[str]:
    """Group titles in table order."""
    return list(dict.fromkeys(c.group for c in columns_for(None)))


def metrics_by_model(evaluations) -> dict[tuple[str, str], Mapping]:
    """(model, benchmark) -> metrics, from the store's evaluations frame."""
    return {(r.model, r.benchmark): r.metrics for r in evaluations.itertuples()}


def cell(column: Column, metrics: Mapping | None, split: str = ALL_SPLITS) -> float | None:
    """A column's value from a benchmark's metrics, on one split where the column has splits; None (a gap,
    never a zero) when absent or partial."""
    if not metrics:
        return None
    try:
        if column.per_split is not None and split in POPE_SPLITS:
            return float(column.per_split(metrics, split))
        return float(column.value(metrics))
    except (KeyError, TypeError, ZeroDivisionError):
        return None
