"""The leaderboard's columns: the paper's Table 1 (grouped Comprehensive / General VQA / Hallucination) and the
micro-world's versions, each with its direction and its value in the units the paper prints.

Values come from ``csr_eval.aggregate.PAPER_UNITS`` where the paper has the column, so the table, the
aggregate and ``csr-eval``'s report can never disagree on what a column means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from csr_eval.aggregate import PAPER_UNITS, POPE_SPLITS, pope_accuracy

COMPREHENSIVE, VQA, HALLUCINATION, MICRO = ("Comprehensive Benchmark", "General VQA", "Hallucination Benchmark",
                                            "Micro-world (offline; not comparable with the paper)")
GROUPS = (COMPREHENSIVE, VQA, HALLUCINATION, MICRO)
ALL_SPLITS = "mean of splits"


@dataclass(frozen=True)
class Column:
    key: str  # the paper column it normalises as (csr_eval.aggregate), or a name of its own
    label: str
    group: str
    benchmark: str  # the benchmark name in the results store
    value: Callable[[Mapping, str], float]  # (metrics, POPE split) -> value in the paper's units
    higher_is_better: bool | None  # None: shown without a direction (lengths)
    digits: int = 1
    paper_column: str | None = None  # the csr_eval.aggregate column this value normalises as, if any

    @property
    def header(self) -> str:
        arrow = {True: " ↑", False: " ↓", None: ""}[self.higher_is_better]
        return f"{self.label}{arrow}"


def _paper(column: str) -> Callable[[Mapping, str], float]:
    return lambda metrics, _split: PAPER_UNITS[column][1](metrics)


def _pope(kind: str) -> Callable[[Mapping, str], float]:
    """POPE accuracy or F1 (percent) for one split, or the mean over the splits."""
    def value(metrics: Mapping, split: str) -> float:
        if split in POPE_SPLITS:
            return 100 * metrics[split][kind]
        return pope_accuracy(metrics) if kind == "accuracy" else 100 * metrics["mean_f1"]
    return value


COLUMNS: tuple[Column, ...] = (
    Column("MME_P", "MME^P", COMPREHENSIVE, "mme", _paper("MME_P"), True, 1, "MME_P"),
    Column("MME_C", "MME^C", COMPREHENSIVE, "mme", _paper("MME_C"), True, 1, "MME_C"),
    Column("SEED", "SEED", COMPREHENSIVE, "seed", _paper("SEED"), True, 1, "SEED"),
    Column("LLaVA_W", "LLaVA^W", COMPREHENSIVE, "llava_wild", _paper("LLaVA_W"), True, 1, "LLaVA_W"),
    Column("MMB", "MMB", COMPREHENSIVE, "mmbench", _paper("MMB"), True, 1, "MMB"),
    Column("MM-Vet", "MM-Vet", COMPREHENSIVE, "mmvet", _paper("MM-Vet"), True, 1, "MM-Vet"),
    Column("SQA_I", "SQA^I", VQA, "sqa", _paper("SQA_I"), True, 1, "SQA_I"),
    Column("VizWiz", "VisWiz", VQA, "vizwiz", _paper("VizWiz"), True, 1, "VizWiz"),
    Column("GQA", "GQA", VQA, "gqa", _paper("GQA"), True, 1, "GQA"),
    Column("POPE", "POPE acc", HALLUCINATION, "pope", _pope("accuracy"), True, 2, "POPE"),
    Column("POPE_F1", "POPE F1", HALLUCINATION, "pope", _pope("f1"), True, 2),
    Column("CHAIR_S", "CHAIR_S", HALLUCINATION, "chair", _paper("CHAIR_S"), False, 1, "CHAIR_S"),
    Column("CHAIR_I", "CHAIR_I", HALLUCINATION, "chair", _paper("CHAIR_I"), False, 1, "CHAIR_I"),
    Column("CHAIR_len", "Avg length", HALLUCINATION, "chair", lambda m, _s: m["mean_length"], None, 1),
    Column("micro_MME_P", "µMME^P", MICRO, "micro_mme", _paper("MME_P"), True, 1, "MME_P"),
    Column("micro_POPE", "µPOPE acc", MICRO, "micro_pope", _pope("accuracy"), True, 2, "POPE"),
    Column("micro_POPE_F1", "µPOPE F1", MICRO, "micro_pope", _pope("f1"), True, 2),
    Column("micro_CHAIR_S", "µCHAIR_S", MICRO, "micro_chair", _paper("CHAIR_S"), False, 1, "CHAIR_S"),
    Column("micro_CHAIR_I", "µCHAIR_I", MICRO, "micro_chair", _paper("CHAIR_I"), False, 1, "CHAIR_I"),
    Column("micro_recall", "µRecall", MICRO, "micro_chair", lambda m, _s: 100 * m["recall"], True, 1),
    Column("micro_len", "µLength", MICRO, "micro_chair", lambda m, _s: m["mean_length"], None, 1),
)
BY_KEY = {c.key: c for c in COLUMNS}
BENCHMARK_GROUP = {c.benchmark: c.group for c in COLUMNS}


def columns_for(benchmarks: set[str] | None = None) -> list[Column]:
    """The columns of the given benchmarks (all when None), in the paper's order."""
    return [c for c in COLUMNS if benchmarks is None or c.benchmark in benchmarks]


def metrics_by_model(evaluations) -> dict[tuple[str, str], Mapping]:
    """(model, benchmark) -> metrics, from the store's evaluations frame."""
    return {(r.model, r.benchmark): r.metrics for r in evaluations.itertuples()}


def cell(column: Column, metrics: Mapping | None, split: str = ALL_SPLITS) -> float | None:
    """A column's value from a benchmark's metrics; None (a gap, never a zero) when absent or partial."""
    if not metrics:
        return None
    try:
        return float(column.value(metrics, split))
    except (KeyError, TypeError, ZeroDivisionError):
        return None
