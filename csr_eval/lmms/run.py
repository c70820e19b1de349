"""Answer requests through lmms-eval: our model instance, a task from our task folder, a local dataset.

The requests still to answer are written as the task's local json dataset, so resuming works as on the
native path; lmms-eval builds each prompt with the task's own ``doc_to_text`` and calls our model; the
answers come back by ``sample_id`` and are scored by the project's reference-exact scorer.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent / "tasks"


def lmms_answers(runner, task: str, docs: list[dict], seed: int = 0) -> dict[str, str]:
    """``{doc["sample_id"]: answer}`` for the docs, answered by ``runner`` through lmms-eval's ``task``."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager
    from lmms_eval.utils import get_datetime_str

    from csr_eval.lmms.model import CsrRunnerLmms

    if not docs:
        return {}
    logging.getLogger("lmms-eval").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="csr-lmms-") as folder:
        data = Path(folder) / "test.jsonl"
        data.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
        results = simple_evaluate(
            model=CsrRunnerLmms(runner=runner),
            tasks=[{"task": task, "dataset_kwargs": {"data_files": {"test": str(data)}}}],
            task_manager=TaskManager("WARNING", include_path=str(TASKS_DIR)),
            batch_size=runner.batch_size, log_samples=True, bootstrap_iters=0, random_seed=seed,
            numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
            datetime_str=get_datetime_str(), verbosity="WARNING", process_docs_parallel=1)
    samples = results["samples"][task]
    answers = {s["doc"]["sample_id"]: s["filtered_resps"][0] for s in samples}
    missing = [d["sample_id"] for d in docs if d["sample_id"] not in answers]
    if missing:
        raise RuntimeError(f"lmms-eval returned no answer for {len(missing)} docs of {task}, e.g. {missing[0]}")
    return answers
