"""The lmms-eval task: a benchmark answered through one of lmms-eval's own tasks, on a local copy of its dataset.

lmms-eval builds the prompts and reads the answers' documents (its task YAML and ``utils.py``, pinned at
0.7.3); the dataset comes from ``data_dir`` instead of the hub (``dataset_path`` override, ``token`` dropped);
the numbers come from the project's reference scorers applied to the per-document answers, where the two
differ. What is particular to a benchmark (the lmms-eval task, the documents kept, how an answered document
becomes a record of its scorer, a judge's review) is the benchmark module's :class:`~csr_eval.benchmark.LmmsTask`;
this module is the same for all of them and implements the task protocol of :mod:`csr_eval.tasks`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from csr_eval.benchmark import LmmsTask
from csr_eval.lmms import run as lmms_run
from csr_eval.tasks import Judgement, Sample, Scores, Skipped


def _answered(doc, results) -> dict:
    return {"answered": 1.0}


# For benchmarks a judge model grades after the answers (LLaVA-W, MM-Vet): lmms-eval only collects the
# answers; its own GPT-judged metrics are replaced by a count.
JUDGED_BY_US = (("process_results", _answered),
                ("metric_list", [{"metric": "answered", "aggregation": "mean", "higher_is_better": True}]))
CHUNK_DOCS = 128  # documents answered per lmms-eval call; their records are stored before the next call
ROW = "_csr_row"  # position of a document in the processed dataset: a stable id where the dataset has none


def load_options(path: Path) -> dict:
    """How lmms-eval loads a local copy: a ``save_to_disk`` folder, or an HF snapshot / parquet folder."""
    if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
        return {"dataset_path": str(path), "dataset_kwargs": {"load_from_disk": True}}
    return {"dataset_path": str(path), "dataset_kwargs": {}}


def prepare(spec, data, limit: int | None) -> "LmmsEvalTask":
    """The task of a benchmark with ``spec.lmms`` set, on the local copy ``configs/data.yaml`` names."""
    path = data.resolve(getattr(data, spec.name).path)
    lmms = spec.lmms
    if not path.exists():
        raise Skipped(f"{spec.name} data not found: {path}. On a machine with internet: huggingface-cli download "
                      f"lmms-lab-encoder/{lmms.hub} --repo-type dataset --local-dir {path} (the dataset of lmms-eval "
                      f"0.7.3's task '{lmms.task}'; formerly lmms-lab/{lmms.hub}), or set {spec.name}.path in "
                      f"configs/data.yaml.")
    return LmmsEvalTask(spec.name, lmms, path, limit)


def _sample_id(doc: dict) -> str:
    for key in ("question_id", "index"):
        if key in doc and doc[key] is not None:
            return str(doc[key])
    return f"row{doc[ROW]}"


def _pending_docs(base_process: Callable | None, limit: int | None, done: set[str], chunk: int, state: dict):
    """``process_docs`` that numbers the documents, applies ``limit``, drops the answered ones and keeps one
    chunk; ``state["pending"]`` tells how many were left before the cut (0: only a placeholder is kept,
    because lmms-eval cannot run an empty task)."""
    def process(dataset):
        if base_process is not None:
            dataset = base_process(dataset)
        dataset = dataset.map(lambda doc, i: {ROW: i}, with_indices=True)
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        pending = dataset.filter(lambda doc: _sample_id(doc) not in done)
        state["pending"] = len(pending)
        if len(pending) == 0:
            return dataset.select(range(1))
        return pending.select(range(min(chunk, len(pending))))
    return process


@contextlib.contextmanager
def _placeholder_openai_key():
    """lmms-eval's judged tasks build an OpenAI client when their utils.py is imported, which fails without
    OPENAI_API_KEY even though csr-eval never uses that client (its own judge does the reviews)."""
    if os.environ.get("OPENAI_API_KEY"):
        yield
        return
    os.environ["OPENAI_API_KEY"] = "unused-by-csr-eval"
    try:
        yield
    finally:
        os.environ.pop("OPENAI_API_KEY", None)


@dataclass
class LmmsEvalTask:
    """The task protocol for an lmms-eval task: lmms-eval picks the documents, a chunk per call."""
    benchmark: str
    lmms: LmmsTask = field(repr=False)
    path: Path
    limit: int | None
    total = None  # lmms-eval knows how many documents there are

    @property
    def needs_judge(self) -> bool:
        return self.lmms.review is not None

    def settings_for(self, run) -> dict:
        settings = {"dataset": str(self.path), "lmms_task": self.lmms.task, "limit": self.limit,
                    "path": "lmms-eval 0.7.3"}
        if self.needs_judge:
            settings.update(judge_model=run.judge.model, judge_url=run.judge.url)
        return settings

    def answer_pending(self, runner: Callable, stored: Mapping[str, Sample], run) -> Iterator[list[Sample]]:
        lmms = self.lmms
        base = {"task": lmms.task, **load_options(self.path), **dict(lmms.overrides)}
        base_process = lmms.process_docs_for(self.path) if lmms.process_docs_for else lmms.process_docs
        done = set(stored)
        while True:
            state: dict = {}
            config = {**base, "process_docs": _pending_docs(base_process, self.limit, done, CHUNK_DOCS, state)}
            with _placeholder_openai_key():
                samples = lmms_run.evaluate_task(runner(), config, run.seed)
            if not state.get("pending"):  # everything was answered before: the placeholder's answer is dropped
                return
            fresh = [self._sample(s) for s in samples]
            done.update(s.sample_id for s in fresh)
            yield fresh
            if state["pending"] <= CHUNK_DOCS:
                return

    def _sample(self, lmms_sample: dict) -> Sample:
        doc, answer = lmms_sample["doc"], lmms_sample["filtered_resps"][0]
        record = self.lmms.record(doc, answer)
        arguments = lmms_sample.get("arguments") or [""]
        sample_id = _sample_id(doc)
        record.update(sample_id=sample_id, **{ROW: doc[ROW]})
        return Sample(sample_id, arguments[0] if isinstance(arguments[0], str) else "", answer, record=record)

    def score(self, samples: Mapping[str, Sample], judge) -> Scores:
        """Judged benchmarks have every answer not yet reviewed reviewed first (a judge failure raises)."""
        records = sorted((s.record for s in samples.values()), key=lambda r: r.get(ROW, 0))
        reviewed = []
        if self.lmms.review is not None:
            reviewed = [r for r in records if "review" not in r]
            self.lmms.review(reviewed, judge)
        judged = {r["sample_id"]: Judgement(parsed=r["prediction"], correct=self.lmms.correct(r)) for r in records}
        for r in reviewed:
            judged[r["sample_id"]].extra = {"record": r, "review": r["review"], "scores": r["tuple"]}
        return self.lmms.score(records), judged
