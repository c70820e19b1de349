"""What a benchmark is, said once: the ``Benchmark`` spec each benchmark module exports as ``BENCHMARKS``.

Why one spec: the evaluation loop, ``csr-eval score``, ``configs/data.yaml``, the paper's aggregate and the
dashboard's columns all read the same object (through :mod:`csr_eval.benchmarks`, the registry), so a new
benchmark is one module — or one module of a user's package, found by entry point — and nothing else.
The shape follows lm-evaluation-harness: a task declares its data, how to build requests, how to score and
what to report; the harness does the rest.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

# Table groups, in the paper's Table 1 order, then the micro-world (not comparable with the paper). A
# benchmark's group is also its suite (`csr-eval --suite vqa`); other names make new suites.
COMPREHENSIVE, VQA, HALLUCINATION, MICRO = "comprehensive", "vqa", "hallucination", "micro"
GROUP_ORDER = (COMPREHENSIVE, VQA, HALLUCINATION, MICRO)


def _as_is(value: float) -> float:
    return value


def _no_verdict(record: dict) -> bool | None:
    return None


def _json_headline(metrics: Mapping) -> str:
    return json.dumps(metrics)[:80]


@dataclass(frozen=True)
class Column:
    """One column of the paper's tables and of the dashboard, read from one benchmark's metrics."""
    key: str  # unique over all benchmarks
    label: str
    value: Callable[[Mapping], float]  # metrics -> the value in the units the paper prints
    higher_is_better: bool | None = True  # None: shown without a direction (lengths)
    digits: int = 1
    paper_column: str | None = None  # the aggregate column it counts as; None: shown, never averaged
    normalise: Callable[[float], float] = _as_is  # onto the aggregate's 100-point, higher-is-better scale
    per_split: Callable[[Mapping, str], float] | None = None  # the value on one split (POPE's)
    benchmark: str = ""  # filled in by the Benchmark that lists the column
    group: str = ""

    @property
    def header(self) -> str:
        return self.label + {True: " ↑", False: " ↓", None: ""}[self.higher_is_better]

    def renamed(self, key: str, label: str) -> "Column":
        """The same column under another name (the micro-world's version of a paper column)."""
        return replace(self, key=key, label=label)


@dataclass(frozen=True)
class ScoreCommand:
    """``csr-eval score <benchmark>``: the answer-file contract (its help), its arguments and the scorer."""
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], tuple[dict, str]]  # -> (JSON-able result, readable table)


@dataclass(frozen=True)
class LmmsTask:
    """A benchmark answered through one of lmms-eval's own tasks, scored by the project's reference scorer.

    lmms-eval builds the prompts from the documents (its task YAML and ``utils.py``); ``record`` turns an
    answered document into what ``score`` reads; ``review`` has a judge model grade every answer first.
    """
    task: str  # lmms-eval's task name
    hub: str  # the dataset's name under lmms-lab-encoder/ on the hub (where a user's copy comes from)
    record: Callable[[dict, str], dict]  # (document, answer) -> record
    score: Callable[[list[dict]], dict]
    correct: Callable[[dict], bool | None] = _no_verdict  # per-sample verdict for the dashboard
    process_docs: Callable | None = None
    process_docs_for: Callable | None = None  # (local copy's path) -> process_docs, where it needs the path
    overrides: tuple = ()  # (key, value) pairs merged into lmms-eval's task config
    review: Callable | None = None  # (records, judge) -> None


@dataclass(frozen=True)
class Benchmark:
    """Everything the toolkit knows about one benchmark.

    ``prepare(data, limit)`` returns a :class:`csr_eval.tasks.Task` (or raises ``Skipped`` naming the missing
    files); benchmarks with ``lmms`` set are prepared by the lmms-eval path instead. ``data`` makes the
    benchmark's section of ``configs/data.yaml`` (a dataclass instance with its fields and defaults).
    """
    name: str
    title: str
    group: str  # table group and suite
    order: int  # position in its group (the paper's column order)
    columns: tuple[Column, ...] = ()
    prepare: Callable[..., Any] | None = None
    data: Callable[[], Any] | None = None
    headline: Callable[[Mapping], str] = _json_headline  # one line for csr-eval's report
    score_command: ScoreCommand | None = None
    lmms: LmmsTask | None = None
    in_suite: bool = True  # False: run by name only (a second path to the same data, say)

    def __post_init__(self):
        if (self.prepare is None) == (self.lmms is None):
            raise ValueError(f"benchmark {self.name!r}: give exactly one of prepare and lmms")
        object.__setattr__(self, "columns", tuple(replace(c, benchmark=self.name, group=self.group)
                                                  for c in self.columns))
