"""Suites: the benchmarks of each of the paper's table groups, and ``all``, from the registry.

A benchmark's group is its suite (``hallucination``, ``comprehensive``, ``vqa``, ``micro``, or a group of
its own); ``all`` is the micro-world first (it runs offline), then the paper's hallucination,
comprehensive and VQA groups, then any other group.
"""

from __future__ import annotations

from csr_eval import benchmarks
from csr_eval.benchmark import COMPREHENSIVE, HALLUCINATION, MICRO, VQA
from csr_eval.errors import InputError

RUN_ORDER = (MICRO, HALLUCINATION, COMPREHENSIVE, VQA)


def suites() -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for spec in benchmarks.registry().values():
        if spec.in_suite:
            groups.setdefault(spec.group, []).append(spec.name)
    ordered = [g for g in RUN_ORDER if g in groups] + [g for g in groups if g not in RUN_ORDER]
    out = {g: tuple(groups[g]) for g in ordered}
    out["all"] = tuple(name for g in ordered for name in groups[g])
    return out


def expand(selection: str) -> list[str]:
    """``all`` / a suite / a comma-separated list of suites and benchmarks → benchmark names, in order."""
    known, names = suites(), benchmarks.registry()
    out: list[str] = []
    for part in [p.strip() for p in selection.split(",") if p.strip()]:
        for name in known.get(part, (part,)):
            if name not in names:
                raise InputError(None, f"unknown suite or benchmark {part!r}; suites: {', '.join(known)}; "
                                       f"benchmarks: {', '.join(names)}")
            if name not in out:
                out.append(name)
    return out
