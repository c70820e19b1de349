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

from csr_eval import __version__, benchmarks
from csr_eval.aggregate import aggregate_score
from csr_eval.benchmark import MICRO
from csr_eval.data_config import DataConfig
from csr_eval.errors import CsrEvalError
from csr_eval.judge import Judge, JudgeSettings
from csr_eval.lmms import general as lmms_general
from csr_eval.registry import ResolvedModel
from csr_eval.runner import VICUNA_V1_SYSTEM, ModelRunner
from csr_eval.store import ResultsStore
from csr_eval.tasks import Sample, Skipped, Task



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
    share_images: bool = True  # greedy questions about one image: the image prefilled once (runner.generate)
    pad_to_square: bool = False  # LLaVA-1.5's own image preprocessing (runner.pad_images_to_square)


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


def _stored_config(task: Task, model: ResolvedModel, settings: RunSettings) -> dict:
    """What decides a benchmark's answers: the benchmark's own settings, generation, and the weights. The
    vicuna_v1 system prompt is part of it (answers stored under an earlier wording are not reused)."""
    conversation = {"conversation": settings.conversation}
    if settings.conversation == "vicuna_v1":
        conversation["system_prompt"] = VICUNA_V1_SYSTEM
    if settings.pad_to_square:  # (absent when off: answers stored before the option stay reusable)
        conversation["pad_to_square"] = True
    return {"benchmark": task.benchmark, **task.settings_for(settings), **conversation,
            "dtype": settings.dtype, "seed": settings.seed, "model_path": model.path, "adapter": model.adapter,
            "weights": model_fingerprint(model)}


def prepare_task(name: str, data: DataConfig, limit: int | None) -> Task:
    """The benchmark's task: its own ``prepare``, or the lmms-eval path for benchmarks run by lmms-eval."""
    spec = benchmarks.get(name)
    if spec.lmms is not None:
        return lmms_general.prepare(spec, data, limit)
    return spec.prepare(data, limit)


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
                                            conversation=s.conversation, share_images=s.share_images,
                                            pad_to_square=s.pad_to_square)
        return self._runner

    def run_benchmark(self, name: str) -> BenchmarkOutcome:
        """Answer what is not stored yet (each chunk committed as answered), score everything, finish."""
        try:
            task = prepare_task(name, self.data, self.settings.limit)
        except Skipped as skip:
            return BenchmarkOutcome("skipped", reason=str(skip))
        except CsrEvalError as exc:
            return BenchmarkOutcome("failed", reason=str(exc))
        judge = None
        if task.needs_judge:
            if self.settings.judge is None:
                return BenchmarkOutcome("skipped", reason=f"{name} is judged by a model: give --judge-url and "
                                                          "--judge-model (an OpenAI-compatible endpoint)")
            judge = Judge(self.settings.judge)
        config = _stored_config(task, self.model, self.settings)
        evaluation_id, stored_rows = self.store.start_evaluation(self.model_id, name, config, __version__)
        try:
            if judge is not None:
                judge.check()  # before hours of answering, not after
            stored = {sid: Sample.from_stored(row) for sid, row in stored_rows.items()}
            total = task.total
            if self.progress and total is not None and len(stored) < total:
                self.progress(name, len(stored), total)
            for chunk in task.answer_pending(lambda: self.runner, stored, self.settings):
                self.store.add_samples(evaluation_id, [s.row() for s in chunk])
                stored.update({s.sample_id: s for s in chunk})
                if self.progress:
                    self.progress(name, len(stored), total or len(stored))
            metrics, judged = task.score(stored, judge)
            self.store.update_samples(evaluation_id, {k: {key: v for key, v in asdict(j).items() if v is not None}
                                                      for k, j in judged.items()})
            self.store.finish_evaluation(evaluation_id, metrics)
            return BenchmarkOutcome("ok", metrics, evaluation_id=evaluation_id)
        except Exception as exc:  # the answers stored so far stay; the row says failed, with the reason
            return self._failed(evaluation_id, exc)

    def _failed(self, evaluation_id: int, exc: Exception) -> BenchmarkOutcome:
        reason = str(exc) if isinstance(exc, CsrEvalError) else f"{type(exc).__name__}: {exc}"
        if os.environ.get("CSR_EVAL_DEBUG"):
            traceback.print_exc()
        self.store.finish_evaluation(evaluation_id, None, error=reason)
        return BenchmarkOutcome("failed", reason=reason, evaluation_id=evaluation_id)


def paper_metrics(outcomes: dict[str, BenchmarkOutcome], micro: bool = False) -> dict[str, dict]:
    """The metrics of the real benchmarks, or (``micro``) of the micro-world's, for ``aggregate_score``."""
    return {name: o.metrics for name, o in outcomes.items()
            if o.status == "ok" and (benchmarks.get(name).group == MICRO) == micro}


def evaluate(model: ResolvedModel, benchmarks: list[str], store: ResultsStore, data: DataConfig,
             settings: RunSettings, progress=None) -> dict:
    evaluator = Evaluator(model, store, data, settings, progress)
    outcomes = {name: evaluator.run_benchmark(name) for name in benchmarks}
    return {"model": model.name,
            "benchmarks": {name: {"status": o.status, "metrics": o.metrics, "reason": o.reason}
                           for name, o in outcomes.items()},
            "aggregate": aggregate_score(paper_metrics(outcomes)),
            "micro_aggregate": aggregate_score(paper_metrics(outcomes, micro=True))}
