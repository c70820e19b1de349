"""The one task protocol the evaluation loop runs, and the native task (our runner answers the requests).

A task says three things: what decides its answers besides the model (``settings_for``), how to answer
what the store does not hold yet, a chunk at a time (``answer_pending``), and how to score the stored
samples (``score``). The native task here and the lmms-eval task (:mod:`csr_eval.lmms.general`) both
implement it, so the loop in :mod:`csr_eval.evaluate` — start, resume, store, score, finish or fail — is
written once, and every benchmark stores its samples in one shape (:class:`Sample`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol

from csr_eval.errors import CsrEvalError
from csr_eval.io import load_rgb_image
from csr_eval.runner import GenerationSettings

CHUNK = 64  # answers committed per transaction


class Skipped(Exception):
    """The benchmark's data is not there; the message says what was looked for and how to get it."""

@dataclass(frozen=True)
class Request:
    sample_id: str  # unique within the benchmark; the key for resuming
    image: Path
    prompt: str
    split: str | None = None


@dataclass
class Sample:
    """One answered sample, as the results store keeps it for every benchmark and every path."""
    sample_id: str
    question: str
    answer: str
    split: str | None = None
    image: str | None = None  # for the dashboard's sample viewer
    record: dict | None = None  # what the scorer reads besides the answer (an lmms-eval document's fields)

    def row(self) -> dict:
        extra = {k: v for k, v in (("image", self.image), ("record", self.record)) if v is not None}
        return {"sample_id": self.sample_id, "split": self.split, "question": self.question, "answer": self.answer,
                "extra": extra or None}

    @classmethod
    def from_stored(cls, stored) -> "Sample":
        extra = stored.extra or {}
        return cls(stored.sample_id, stored.question, stored.answer, stored.split, extra.get("image"),
                   extra.get("record"))


@dataclass
class Judgement:
    """How one answer was read and judged (stored per sample)."""
    parsed: str | None = None
    correct: bool | None = None
    hallucinated: list | None = None
    extra: dict | None = None


Scores = tuple[dict, dict[str, Judgement]]  # (metrics, judgement per sample id)


class Task(Protocol):
    benchmark: str
    needs_judge: bool
    total: int | None  # samples in all (None: known only to the other harness)

    def settings_for(self, run) -> dict:
        """What decides the answers besides the model (stored with the evaluation; resuming needs equality)."""

    def answer_pending(self, runner: Callable, stored: Mapping[str, Sample], run) -> Iterator[list[Sample]]:
        """Answer what ``stored`` lacks, yielding each answered chunk (the loop stores it before the next);
        ``runner()`` loads the model on first call (nothing pending: nothing loaded)."""

    def score(self, samples: Mapping[str, Sample], judge) -> Scores:
        """Metrics over every stored sample, and what to store about each."""

@dataclass
class PreparedTask:
    """A benchmark whose requests are known up front and answered by our runner (POPE, CHAIR, MME, ...)."""
    benchmark: str
    requests: list[Request]
    max_new_tokens: int
    settings: dict  # what decides the answers besides the model: prompt rule, data location, sampling of items
    scorer: Callable[[dict[str, str]], Scores] = field(repr=False)  # answers by sample id -> scores
    # Answers a chunk another way than the runner's plain generation: (runner, requests, generation) -> texts.
    generate: Callable[..., list[str]] | None = field(default=None, repr=False)
    needs_judge: bool = False

    def settings_for(self, run) -> dict:
        return {**self.settings, "max_new_tokens": run.max_new_tokens or self.max_new_tokens, "greedy": True}

    def answer_pending(self, runner: Callable, stored: Mapping[str, Sample], run) -> Iterator[list[Sample]]:
        generation = GenerationSettings(max_new_tokens=run.max_new_tokens or self.max_new_tokens, seed=run.seed)
        pending = [r for r in self.requests if r.sample_id not in stored]
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start:start + CHUNK]
            missing = [r.image for r in chunk if not r.image.is_file()]
            if missing:
                raise CsrEvalError(f"{self.benchmark}: image not found: {missing[0]}")
            if self.generate is not None:
                texts = self.generate(runner(), chunk, generation)
            else:
                texts = runner().generate([load_rgb_image(r.image) for r in chunk], [r.prompt for r in chunk],
                                        generation)
            yield [Sample(r.sample_id, r.prompt, t, r.split, str(r.image.resolve())) for r, t in zip(chunk, texts)]

    def score(self, samples: Mapping[str, Sample], judge) -> Scores:
        return self.scorer({sid: s.answer for sid, s in samples.items()})

    @property
    def total(self) -> int:
        return len(self.requests)


def take(items: list, limit: int | None) -> list:
    return items if limit is None else items[:limit]


def require_files(paths: list[Path], what: str, how: str) -> None:
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise Skipped(f"{what} not found: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                                           else "") + f". {how}")
