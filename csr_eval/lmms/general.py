"""The paper's general benchmarks through lmms-eval's own tasks, on local copies of their datasets.

lmms-eval builds the prompts and reads the answers' documents (its task YAML and ``utils.py``, pinned at
0.7.3); the dataset comes from ``data_dir`` instead of the hub (``dataset_path`` override, ``token`` dropped);
the numbers come from the project's reference scorers applied to the per-document answers, where the
two differ. One benchmark = one entry here: the lmms-eval task, the documents kept, and how an answered
document becomes a record of the project's scorer.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def _seed_image_only(dataset):
    """LLaVA-1.5 reports SEED-Bench's image questions (SEED-IMG); video questions are left out."""
    return dataset.filter(lambda doc: doc["data_type"] == "image")


def _seed_record(doc: dict, answer: str) -> dict:
    return {"prediction": answer, "answer": doc["answer"], "question_type_id": doc.get("question_type_id", "all")}


def _seed_score(records: list[dict]) -> dict:
    from csr_eval.benchmarks import seed
    return seed.score(records)


def _sqa_record(doc: dict, answer: str) -> dict:
    return {"prediction": answer, "choices": list(doc["choices"]), "answer": int(doc["answer"]), "image": True}


def _sqa_score(records: list[dict]) -> dict:
    from csr_eval.benchmarks import scienceqa
    problems = {r["sample_id"]: {"choices": r["choices"], "answer": r["answer"], "image": r["image"]} for r in records}
    return scienceqa.score(problems, {r["sample_id"]: r["prediction"] for r in records})


def _sqa_correct(record: dict) -> bool:
    from csr_eval.benchmarks import scienceqa
    return scienceqa.parse_choice(record["prediction"], len(record["choices"])) == record["answer"]


def _vizwiz_record(doc: dict, answer: str) -> dict:
    # lmms-eval's process_results normalises doc["answers"] in place; the VQA normalisation is idempotent
    return {"prediction": answer, "answers": list(doc["answers"])}


def _vizwiz_score(records: list[dict]) -> dict:
    from csr_eval.benchmarks import vizwiz
    return vizwiz.score(records)


def _vizwiz_correct(record: dict) -> bool:
    from csr_eval.benchmarks import vizwiz
    return vizwiz.vqa_accuracy(record["prediction"], record["answers"]) > 0


def _mmbench_record(doc: dict, answer: str) -> dict:
    options = {k: doc[k] for k in "ABCDEFGH" if isinstance(doc.get(k), str) and doc[k] not in ("", "nan")}
    return {"index": int(doc["index"]), "prediction": answer, "answer": doc["answer"], **options}


def _mmbench_score(records: list[dict]) -> dict:
    from csr_eval.benchmarks import mmbench
    return mmbench.circular_eval(records)


def _mmbench_correct(record: dict) -> bool:
    from csr_eval.benchmarks import mmbench
    options = {k: record[k] for k in "ABCDEFGH" if k in record}
    return mmbench.extract_option(record["prediction"], options) == record["answer"]


def _gqa_images_from(path: Path) -> Callable:
    """lmms-eval's GQA ``process_docs`` downloads the image config from the hub; this one reads it from the
    same local copy (config ``testdev_balanced_images``) and attaches each question's image by ``imageId``."""
    def attach(dataset):
        import datasets

        images = datasets.load_dataset(str(path), "testdev_balanced_images", split="testdev")
        by_id = {row["id"]: row["image"] for row in images}
        return dataset.map(lambda doc: {"image": by_id[doc["imageId"]]})
    return attach


def _gqa_record(doc: dict, answer: str) -> dict:
    return {"prediction": answer, "answer": doc["answer"]}


def _gqa_score(records: list[dict]) -> dict:
    from csr_eval.benchmarks import gqa
    return gqa.score(records)


def _gqa_correct(record: dict) -> bool:
    from csr_eval.benchmarks import gqa
    return gqa.normalize(record["prediction"]) == gqa.normalize(record["answer"])


REVIEW_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."


def _llava_wild_record(doc: dict, answer: str) -> dict:
    captions = doc.get("caption", [])
    return {"prediction": answer, "question_text": doc.get("question", ""), "gpt_answer": doc.get("gpt_answer", ""),
            "context": "\n".join(captions) if isinstance(captions, list) else str(captions),
            "category": doc.get("category", "")}


def _llava_wild_review(records: list[dict], judge) -> None:
    """LLaVA's eval_gpt_review_bench.py prompt (rules from lmms-eval's copy of rule.json); every review must
    yield a score pair, or the benchmark fails."""
    import json as _json

    import lmms_eval

    from csr_eval.benchmarks.llava_wild import parse_review_scores
    from csr_eval.judge import JudgeError

    rules = _json.loads((Path(lmms_eval.__file__).parent / "tasks" / "llava-in-the-wild" / "rule.json").read_text())
    for r in records:
        rule = rules["llava_bench_" + r["category"]]
        role = rule["role"]
        content = (f"[Context]\n{r['context']}\n\n[Question]\n{r['question_text']}\n\n[{role} 1]\n{r['gpt_answer']}"
                   f"\n\n[End of {role} 1]\n\n[{role} 2]\n{r['prediction']}\n\n[End of {role} 2]\n\n"
                   f"[System]\n{rule['prompt']}\n\n")
        review = judge.ask(REVIEW_SYSTEM, content)
        scores = parse_review_scores(review)
        if scores is None:
            raise JudgeError(f"unreadable review for question {r['sample_id']}: {review[:120]!r}")
        r["tuple"], r["review"] = list(scores), review
        r["correct"] = None


def _llava_wild_score(records: list[dict]) -> dict:
    from csr_eval.benchmarks.llava_wild import score_reviews
    return score_reviews([{"category": r["category"], "tuple": r["tuple"]} for r in records])


def _mmvet_record(doc: dict, answer: str) -> dict:
    capabilities = doc.get("capability", [])
    if isinstance(capabilities, str):
        capabilities = [c.strip() for c in capabilities.split(",")]
    return {"prediction": answer, "question_text": doc["question"], "gt": doc["answer"],
            "capabilities": list(capabilities)}


def _mmvet_prompt() -> str:
    """The grader prompt, read from lmms-eval's mmvet/utils.py without importing it (the import builds an
    OpenAI client, which fails without an OpenAI key even when another judge is used)."""
    import ast

    import lmms_eval

    source = (Path(lmms_eval.__file__).parent / "tasks" / "mmvet" / "utils.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MM_VET_PROMPT" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("MM_VET_PROMPT not found in lmms-eval's mmvet/utils.py (lmms-eval version changed?)")


def _mmvet_review(records: list[dict], judge) -> None:
    """The MM-Vet grader prompt (as in the official evaluator and lmms-eval), temperature 0, raised by 0.5 on
    an unreadable grade as the official evaluator does, at most twice; then the benchmark fails."""
    from csr_eval.judge import JudgeError

    MM_VET_PROMPT = _mmvet_prompt()

    for r in records:
        gt = r["gt"].replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
        prompt = f"{MM_VET_PROMPT}\n{r['question_text']} | {gt} | {r['prediction']} |"
        grade = None
        for temperature in (0.0, 0.5, 1.0):
            reply = judge.ask(None, prompt, temperature=temperature)
            try:
                value = float(reply.strip().split(" ")[0])
            except (ValueError, IndexError):
                continue
            if 0.0 <= value <= 1.0:
                grade = value
                break
        if grade is None:
            raise JudgeError(f"unreadable grade for question {r['sample_id']}: {reply[:120]!r}")
        r["score"], r["review"], r["tuple"] = grade, reply, [grade]
        r["correct"] = None


def _mmvet_score(records: list[dict]) -> dict:
    from csr_eval.benchmarks import mmvet
    return mmvet.score([{"score": r["score"], "capabilities": r["capabilities"]} for r in records])


def _answered(doc, results) -> dict:
    return {"answered": 1.0}


def _count(results) -> int:
    """Stands in for lmms-eval's MMBench aggregations, which call a GPT judge or write submission files;
    the score is computed by the project's CircularEval instead."""
    return len(results)


@dataclass(frozen=True)
class LmmsBenchmark:
    task: str  # lmms-eval task name
    record: Callable[[dict, str], dict]  # (document, answer) -> record for the scorer
    score: Callable[[list[dict]], dict]
    process_docs: Callable | None = None
    process_docs_for: Callable[[Path], Callable] | None = None  # process_docs that needs the local copy's path
    correct: Callable[[dict], bool | None] = lambda record: None
    overrides: tuple = ()  # (key, value) pairs merged into lmms-eval's task config
    review: Callable | None = None  # (records, judge) -> None: a judge model reviews every answer


GENERAL = {
    "seed": LmmsBenchmark("seedbench", _seed_record, _seed_score, _seed_image_only,
                          correct=lambda r: r["prediction"] == r["answer"]),
    "sqa": LmmsBenchmark("scienceqa_img", _sqa_record, _sqa_score, correct=_sqa_correct),
    "vizwiz": LmmsBenchmark("vizwiz_vqa_val", _vizwiz_record, _vizwiz_score, correct=_vizwiz_correct),
    "mmbench": LmmsBenchmark("mmbench_en_dev", _mmbench_record, _mmbench_score, correct=_mmbench_correct,
                             overrides=(("metric_list", [{"metric": "gpt_eval_score", "aggregation": _count,
                                                          "higher_is_better": True}]),)),
    "llava_wild": LmmsBenchmark("llava_in_the_wild", _llava_wild_record, _llava_wild_score, review=_llava_wild_review,
                                overrides=(("process_results", _answered),
                                           ("metric_list", [{"metric": "answered", "aggregation": "mean",
                                                             "higher_is_better": True}]))),
    "mmvet": LmmsBenchmark("mmvet", _mmvet_record, _mmvet_score, review=_mmvet_review,
                           overrides=(("process_results", _answered),
                                      ("metric_list", [{"metric": "answered", "aggregation": "mean",
                                                        "higher_is_better": True}]),
                                      # LLaVA-1.5 asks the raw question, greedy (lmms-eval: "think step by
                                      # step" prefix and temperature 0.2)
                                      ("lmms_eval_specific_kwargs", {"default": {"pre_prompt": "", "post_prompt": ""}}),
                                      ("generation_kwargs", {"max_new_tokens": 1024, "temperature": 0,
                                                             "do_sample": False}))),
    "gqa": LmmsBenchmark("gqa", _gqa_record, _gqa_score, process_docs_for=_gqa_images_from, correct=_gqa_correct),
}


def load_options(path: Path) -> dict:
    """How lmms-eval loads a local copy: a ``save_to_disk`` folder, or an HF snapshot / parquet folder."""
    if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
        return {"dataset_path": str(path), "dataset_kwargs": {"load_from_disk": True}}
    return {"dataset_path": str(path), "dataset_kwargs": {}}


CHUNK_DOCS = 128  # documents answered per lmms-eval call; their records are stored before the next call
ROW = "_csr_row"  # position of a document in the processed dataset: a stable id where the dataset has none


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


def run_general(name: str, runner, path: Path, limit: int | None, seed: int = 0, judge=None,
                done: dict[str, dict] | None = None, store=None) -> tuple[dict, list[dict]]:
    """Answer the benchmark's documents through lmms-eval, a chunk at a time, and score them all.

    ``done``: records stored by an earlier, interrupted run (skipped); ``store(records)`` is called after
    every chunk so that a killed run loses at most one chunk. Judged benchmarks check the judge first and
    have every answer not yet reviewed reviewed; a judge failure raises.
    """
    import logging

    bench = GENERAL[name]
    if bench.review is not None:
        judge.check()
    records = dict(done or {})
    base = {"task": bench.task, **load_options(Path(path)), **dict(bench.overrides)}
    base_process = bench.process_docs_for(Path(path)) if bench.process_docs_for else bench.process_docs
    logging.getLogger("lmms-eval").setLevel(logging.WARNING)
    while True:
        state: dict = {}
        override = {**base, "process_docs": _pending_docs(base_process, limit, set(records), CHUNK_DOCS, state)}
        with _placeholder_openai_key():
            results = _evaluate(runner, override, None, seed)
        if not state.get("pending"):  # everything was answered before: the placeholder's answer is dropped
            break
        fresh = _records(bench, results["samples"][bench.task])
        records.update({r["sample_id"]: r for r in fresh})
        if store is not None:
            store(fresh)
        if state["pending"] <= CHUNK_DOCS:
            break
    ordered = sorted(records.values(), key=lambda r: r.get(ROW, 0))
    if bench.review is not None:
        unreviewed = [r for r in ordered if "review" not in r]
        bench.review(unreviewed, judge)
        if store is not None and unreviewed:
            store(unreviewed)
    return bench.score(ordered), ordered


def _evaluate(runner, override: dict, limit: int | None, seed: int) -> dict:
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager
    from lmms_eval.utils import get_datetime_str

    from csr_eval.lmms.model import CsrRunnerLmms

    return simple_evaluate(
        model=CsrRunnerLmms(runner=runner), tasks=[override], task_manager=TaskManager("WARNING"),
        batch_size=runner.batch_size, limit=limit, log_samples=True, bootstrap_iters=0, random_seed=seed,
        numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        datetime_str=get_datetime_str(), verbosity="WARNING", process_docs_parallel=1)


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


def _records(bench: LmmsBenchmark, samples: list[dict]) -> list[dict]:
    records = []
    for s in samples:
        record = bench.record(s["doc"], s["filtered_resps"][0])
        arguments = s.get("arguments") or [""]
        record.update(sample_id=_sample_id(s["doc"]), question=arguments[0] if isinstance(arguments[0], str) else "",
                      answer_text=s["filtered_resps"][0])
        record[ROW] = s["doc"][ROW]
        record["correct"] = bench.correct(record)
        records.append(record)
    return records
