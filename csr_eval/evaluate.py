"""The evaluation loop: for each benchmark, answer the requests not yet stored, score, store.

Why this shape: a long evaluation on a GPU gets killed; the samples answered so far are committed as
they come, so the re-run answers only the rest. The evaluation row becomes ``complete`` with its metrics
only after scoring, in one transaction, so nothing half-done looks finished.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from csr_eval import __version__
from csr_eval.aggregate import aggregate_score
from csr_eval.data_config import DataConfig
from csr_eval.errors import CsrEvalError
from csr_eval.io import load_rgb_image
from csr_eval.judge import Judge, JudgeSettings
from csr_eval.registry import ResolvedModel
from csr_eval.runner import GenerationSettings, ModelRunner
from csr_eval.store import ResultsStore
from csr_eval.suites import BENCHMARKS
from csr_eval.tasks import PreparedTask, Skipped, WholeTask

CHUNK = 64  # answers committed per transaction
MICRO_COLUMNS = ("MME_P", "POPE", "CHAIR_S", "CHAIR_I")  # what the micro-world can express


@dataclass
class RunSettings:
    device: str = "cpu"
    dtype: str = "auto"
    batch_size: int = 16
    conversation: str = "chat_template"
    seed: int = 0
    limit: int | None = None
    max_new_tokens: int | None = None  # overrides every benchmark's own limit when set
    judge: JudgeSettings | None = None  # the judged benchmarks (LLaVA-W) need one


@dataclass
class BenchmarkOutcome:
    status: str  # ok | skipped | failed
    metrics: dict = field(default_factory=dict)
    reason: str | None = None
    evaluation_id: int | None = None


def model_fingerprint(model: ResolvedModel) -> str:
    """Identifies the weights (file names, sizes, modification times) without reading gigabytes."""
    digest = hashlib.sha256()
    for location in (model.path, model.adapter):
        if location is None:
            continue
        path = Path(location)
        if not path.exists():
            digest.update(location.encode())  # a hub id
            continue
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = f.stat()
            digest.update(f"{f.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _stored_config(task: PreparedTask | WholeTask, model: ResolvedModel, settings: RunSettings,
                   **generation) -> dict:
    """What decides a benchmark's answers: the benchmark's own settings, generation, and the weights."""
    return {"benchmark": task.benchmark, **task.settings, **generation, "conversation": settings.conversation,
            "dtype": settings.dtype, "seed": settings.seed, "model_path": model.path, "adapter": model.adapter,
            "weights": model_fingerprint(model)}


class Evaluator:
    def __init__(self, model: ResolvedModel, store: ResultsStore, data: DataConfig, settings: RunSettings,
                 progress=None):
        self.model, self.store, self.data, self.settings = model, store, data, settings
        self.progress = progress
        self._runner: ModelRunner | None = None
        self.model_id = store.upsert_model(model.name, model.path if model.adapter is None else model.adapter,
                                           run=None if model.run is None else str(Path(model.run).resolve()),
                                           iteration=model.iteration,
                                           base_model=model.base_model or (model.path if model.adapter else None))

    @property
    def runner(self) -> ModelRunner:
        if self._runner is None:  # loaded only when something needs answering
            s = self.settings
            self._runner = ModelRunner.load(self.model.path, device=s.device, dtype=s.dtype,
                                            batch_size=s.batch_size, adapter=self.model.adapter,
                                            conversation=s.conversation)
        return self._runner

    def run_benchmark(self, name: str) -> BenchmarkOutcome:
        try:
            task = BENCHMARKS[name](self.data, self.settings.limit)
        except Skipped as skip:
            return BenchmarkOutcome("skipped", reason=str(skip))
        except NotImplementedError as exc:
            return BenchmarkOutcome("failed", reason=str(exc))
        except CsrEvalError as exc:
            return BenchmarkOutcome("failed", reason=str(exc))
        if isinstance(task, WholeTask):
            return self._run_whole(task)
        max_new_tokens = self.settings.max_new_tokens or task.max_new_tokens
        config = _stored_config(task, self.model, self.settings, max_new_tokens=max_new_tokens, greedy=True)
        evaluation_id, done = self.store.start_evaluation(self.model_id, name, config, __version__)
        try:
            answers = {sid: record.answer for sid, record in done.items()}
            pending = [r for r in task.requests if r.sample_id not in answers]
            generation = GenerationSettings(max_new_tokens=max_new_tokens, seed=self.settings.seed)
            if self.progress and pending:
                self.progress(name, len(answers), len(task.requests))
            for start in range(0, len(pending), CHUNK):
                chunk = pending[start:start + CHUNK]
                missing = [r.image for r in chunk if not r.image.is_file()]
                if missing:
                    raise CsrEvalError(f"{name}: image not found: {missing[0]}")
                if task.answer is not None:
                    by_id = task.answer(self.runner, chunk, self.settings.seed)
                    texts = [by_id[r.sample_id] for r in chunk]
                else:
                    texts = self.runner.generate([load_rgb_image(r.image) for r in chunk], [r.prompt for r in chunk],
                                                 generation)
                self.store.add_samples(evaluation_id, [
                    {"sample_id": r.sample_id, "split": r.split, "question": r.prompt, "answer": t,
                     "extra": {"image": str(r.image.resolve())}}  # for the dashboard's sample viewer
                    for r, t in zip(chunk, texts)])
                answers.update({r.sample_id: t for r, t in zip(chunk, texts)})
                if self.progress:
                    self.progress(name, len(answers), len(task.requests))
            metrics, judged = task.score(answers)
            self.store.update_samples(evaluation_id, {k: {key: v for key, v in asdict(j).items() if v is not None}
                                                      for k, j in judged.items()})
            self.store.finish_evaluation(evaluation_id, metrics)
            return BenchmarkOutcome("ok", metrics, evaluation_id=evaluation_id)
        except Exception as exc:  # the answers stored so far stay; the row says failed, with the reason
            return self._failed(evaluation_id, exc)


    def _run_whole(self, task: WholeTask) -> BenchmarkOutcome:
        judge = None
        if task.needs_judge:
            if self.settings.judge is None:
                return BenchmarkOutcome("skipped", reason=f"{task.benchmark} is judged by a model: give --judge-url "
                                                          "and --judge-model (an OpenAI-compatible endpoint)")
            judge = Judge(self.settings.judge)
            task.settings = {**task.settings, "judge_model": self.settings.judge.model,
                             "judge_url": self.settings.judge.url}
        config = _stored_config(task, self.model, self.settings)
        evaluation_id, stored = self.store.start_evaluation(self.model_id, task.benchmark, config, __version__)
        done = {sid: record.extra["record"] for sid, record in stored.items()
                if record.extra and "record" in record.extra}

        def store(records: list[dict]) -> None:
            fresh = [r for r in records if r["sample_id"] not in stored]
            self.store.add_samples(evaluation_id, [
                {"sample_id": r["sample_id"], "question": r.get("question", ""), "answer": r["answer_text"],
                 "parsed": r.get("prediction"), "correct": r.get("correct"), "extra": {"record": r}}
                for r in fresh])
            stored.update({r["sample_id"]: None for r in fresh})
            reviewed = {r["sample_id"]: {"extra": {"record": r, "review": r["review"], "scores": r["tuple"]}}
                        for r in records if "review" in r}
            if reviewed:
                self.store.update_samples(evaluation_id, reviewed)
            if self.progress:
                self.progress(task.benchmark, len(stored), len(stored))

        try:
            metrics, _ = task.run(self.runner, self.settings.seed, judge, done, store)
            self.store.finish_evaluation(evaluation_id, metrics)
            return BenchmarkOutcome("ok", metrics, evaluation_id=evaluation_id)
        except Exception as exc:
            return self._failed(evaluation_id, exc)

    def _failed(self, evaluation_id: int, exc: Exception) -> BenchmarkOutcome:
        reason = str(exc) if isinstance(exc, CsrEvalError) else f"{type(exc).__name__}: {exc}"
        if os.environ.get("CSR_EVAL_DEBUG"):
            traceback.print_exc()
        self.store.finish_evaluation(evaluation_id, None, error=reason)
        return BenchmarkOutcome("failed", reason=reason, evaluation_id=evaluation_id)


def paper_metrics(outcomes: dict[str, BenchmarkOutcome], micro: bool = False) -> dict[str, dict]:
    """Metrics keyed as ``aggregate_score`` expects: the real benchmarks, or (``micro``) the micro-world's
    versions under the names of the benchmarks they imitate."""
    ok = {name: o.metrics for name, o in outcomes.items() if o.status == "ok"}
    if micro:
        return {name.removeprefix("micro_"): m for name, m in ok.items() if name.startswith("micro_")}
    return {name: m for name, m in ok.items() if not name.startswith("micro_")}


def evaluate(model: ResolvedModel, benchmarks: list[str], store: ResultsStore, data: DataConfig,
             settings: RunSettings, progress=None) -> dict:
    evaluator = Evaluator(model, store, data, settings, progress)
    outcomes = {name: evaluator.run_benchmark(name) for name in benchmarks}
    return {"model": model.name,
            "benchmarks": {name: {"status": o.status, "metrics": o.metrics, "reason": o.reason}
                           for name, o in outcomes.items()},
            "aggregate": aggregate_score(paper_metrics(outcomes)),
            "micro_aggregate": aggregate_score(paper_metrics(outcomes, micro=True), MICRO_COLUMNS)}
