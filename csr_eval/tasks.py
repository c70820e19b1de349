"""What a benchmark gives the evaluation loop: requests to answer, and a scorer for the answers.

Each benchmark module (``csr_eval/benchmarks/<name>.py``) reads its data in the official format, builds the
prompts its reference evaluation uses, and scores with its reference-exact scorer; this module only holds
the shapes they share, so the loop, the results store and resuming work the same for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class Skipped(Exception):
    """The benchmark's data is not there; the message says what was looked for and how to get it."""


@dataclass(frozen=True)
class Request:
    sample_id: str  # unique within the benchmark; the key for resuming
    image: Path
    prompt: str
    split: str | None = None


@dataclass
class Judgement:
    """How one answer was read and judged (stored per sample)."""
    parsed: str | None = None
    correct: bool | None = None
    hallucinated: list | None = None
    extra: dict | None = None


@dataclass
class PreparedTask:
    benchmark: str
    requests: list[Request]
    max_new_tokens: int
    settings: dict  # what decides the answers besides the model: prompt rule, data location, sampling of items
    score: Callable[[dict[str, str]], tuple[dict, dict[str, Judgement]]] = field(repr=False)
    # Answers the pending requests another way than the runner's plain generation (the lmms-eval path).
    answer: Callable[..., dict[str, str]] | None = field(default=None, repr=False)


def take(items: list, limit: int | None) -> list:
    return items if limit is None else items[:limit]


def require_files(paths: list[Path], what: str, how: str) -> None:
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise Skipped(f"{what} not found: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                                           else "") + f". {how}")


@dataclass
class WholeTask:
    """A benchmark answered by another harness (lmms-eval's own tasks), which reads its documents itself.

    ``run(runner, seed, judge, done, store)`` returns the metrics and one record per sample with
    ``sample_id``, ``question``, ``answer_text`` and optionally ``correct``; it skips the records in
    ``done`` (from an interrupted run) and hands each answered chunk to ``store``.
    """
    benchmark: str
    settings: dict
    run: Callable[..., tuple[dict, list[dict]]] = field(repr=False)  # (runner, seed, judge, done, store)
    needs_judge: bool = False
