"""The one place that calls lmms-eval: our model instance, one task config, the samples back.

Both lmms-eval paths go through :func:`evaluate_task`: the paper's general benchmarks on local copies of
lmms-eval's datasets (:mod:`csr_eval.lmms.general`) and tasks from our own task folder on a local json
dataset (:func:`lmms_answers`, the micro-world's POPE).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent / "tasks"


def evaluate_task(runner, task_config: dict, seed: int = 0, include_path: Path | None = None) -> list[dict]:
    """lmms-eval's per-document samples (``doc``, ``arguments``, ``filtered_resps``) of one task, answered by
    ``runner`` with every seed lmms-eval has set to ``seed``."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager
    from lmms_eval.utils import get_datetime_str

    from csr_eval.lmms.model import CsrRunnerLmms

    name = task_config["task"]  # lmms-eval consumes the config dict
    logging.getLogger("lmms-eval").setLevel(logging.WARNING)
    manager = TaskManager("WARNING", include_path=str(include_path) if include_path else None)
    results = simple_evaluate(
        model=CsrRunnerLmms(runner=runner), tasks=[task_config], task_manager=manager,
        batch_size=runner.batch_size, log_samples=True, bootstrap_iters=0, random_seed=seed,
        numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        datetime_str=get_datetime_str(), verbosity="WARNING", process_docs_parallel=1)
    return results["samples"][name]


def lmms_answers(runner, task: str, docs: list[dict], seed: int = 0) -> dict[str, str]:
    """``{doc["sample_id"]: answer}`` for the docs, answered by ``runner`` through our task folder's ``task``."""
    if not docs:
        return {}
    with tempfile.TemporaryDirectory(prefix="csr-lmms-") as folder:
        data = Path(folder) / "test.jsonl"
        data.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
        samples = evaluate_task(runner, {"task": task, "dataset_kwargs": {"data_files": {"test": str(data)}}}, seed,
                                TASKS_DIR)
    answers = {s["doc"]["sample_id"]: s["filtered_resps"][0] for s in samples}
    missing = [d["sample_id"] for d in docs if d["sample_id"] not in answers]
    if missing:
        raise RuntimeError(f"lmms-eval returned no answer for {len(missing)} docs of {task}, e.g. {missing[0]}")
    return answers
