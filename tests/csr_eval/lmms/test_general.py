"""A general benchmark through lmms-eval's own task (seedbench) on a local copy in the hub schema."""

import json

import pytest

pytest.importorskip("lmms_eval")

from csr_eval.cli import main  # noqa: E402
from csr_eval.data_config import DataConfig  # noqa: E402
from csr_eval.benchmarks.seed import image_only as _seed_image_only  # noqa: E402
from csr_eval.micro.lmms_export import gqa_testdev, mmbench_dev, scienceqa_img, seed_bench, vizwiz_vqa  # noqa: E402
from csr_eval.store import ResultsStore  # noqa: E402


def test_seed_runs_lmms_eval_task_on_local_parquet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    world = DataConfig().micro_world()
    seed_bench(world, tmp_path / "seedcopy", n=6)
    code = main(["--model", "micro-llava", "--suite", "seed", "--set", f"seed.path={tmp_path / 'seedcopy'}",
                 "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    seed = report["benchmarks"]["seed"]
    assert seed["status"] == "ok" and seed["metrics"]["n"] == 6
    assert report["aggregate"]["columns"] == ["SEED"]
    store = ResultsStore(tmp_path / "results" / "csr.db")
    [row] = store.evaluations(benchmark="seed")
    samples = store.samples(row.id)
    assert len(samples) == 6
    assert all("\nA. " in s["question"] and "option's letter" in s["question"] for s in samples)
    right = sum(bool(s["correct"]) for s in samples)
    assert seed["metrics"]["accuracy"] == right / 6


def test_seed_keeps_image_questions_only():
    from datasets import Dataset

    docs = Dataset.from_list([{"data_type": "image"}, {"data_type": "video"}, {"data_type": "image"}])
    assert len(_seed_image_only(docs)) == 2


def test_missing_copy_is_skipped_with_the_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--model", "micro-llava", "--suite", "vqa", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert all(b["status"] == "skipped" and "data/lmms/" in b["reason"] for b in report["benchmarks"].values())
    assert "huggingface-cli download lmms-lab-encoder/GQA" in report["benchmarks"]["gqa"]["reason"]


@pytest.mark.parametrize("name, export, column, fragment, rows", [
    ("sqa", scienceqa_img, "SQA_I", "Answer with the option's letter", 4),
    ("vizwiz", vizwiz_vqa, "VizWiz", "respond with 'Unanswerable'", 4),
    ("mmbench", mmbench_dev, "MMB", "A. ", 16),  # four CircularEval copies per question
    ("gqa", gqa_testdev, "GQA", "single word or phrase", 4),  # images joined from the local image config
])
def test_benchmarks_run_lmms_eval_tasks_on_hub_layout_copies(tmp_path, monkeypatch, capsys, name, export,
                                                             column, fragment, rows):
    monkeypatch.chdir(tmp_path)
    export(DataConfig().micro_world(), tmp_path / "copy", n=4)
    code = main(["--model", "micro-llava", "--suite", name, "--set", f"{name}.path={tmp_path / 'copy'}", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["benchmarks"][name]["status"] == "ok", report
    assert report["aggregate"]["columns"] == [column]
    [row] = ResultsStore(tmp_path / "results" / "csr.db").evaluations(benchmark=name)
    samples = ResultsStore(tmp_path / "results" / "csr.db").samples(row.id)
    assert len(samples) == rows and all(fragment in s["question"] for s in samples)
    assert all(s["correct"] is not None for s in samples)
    assert not (tmp_path / "submissions").exists()  # lmms-eval's submission writers are not run


def test_lmms_path_resumes_from_stored_records(tmp_path, monkeypatch):
    """Chunks of documents are stored as answered; a re-run answers only the rest and scores them all."""
    import csr_eval.lmms.general as general
    from csr_eval.evaluate import Evaluator, RunSettings
    from csr_eval.micro.shipped import shipped_model
    from csr_eval.registry import ResolvedModel

    monkeypatch.chdir(tmp_path)
    mmbench_dev(DataConfig().micro_world(), tmp_path / "mmb", n=3)  # 12 documents (circular copies)
    data = DataConfig()
    data.mmbench.path = str(tmp_path / "mmb")
    store = ResultsStore(tmp_path / "r.db")
    model = ResolvedModel("micro-llava", str(shipped_model("micro-llava")))
    monkeypatch.setattr(general, "CHUNK_DOCS", 5)
    calls = []
    import csr_eval.lmms.run as lmms_run  # the one lmms-eval call site
    real = lmms_run.evaluate_task
    monkeypatch.setattr(lmms_run, "evaluate_task", lambda *a: calls.append(1) or real(*a))
    first = Evaluator(model, store, data, RunSettings()).run_benchmark("mmbench")
    assert first.status == "ok" and len(calls) == 3  # chunks of 5, 5 and 2
    [row] = store.evaluations(benchmark="mmbench")
    assert len(store.samples(row.id)) == 12
    # an interrupted run: drop the last chunk's records and mark the evaluation running again
    from sqlalchemy import delete
    from sqlalchemy.orm import Session
    from csr_eval.store import SampleRecord
    keep = [s["sample_id"] for s in store.samples(row.id)][:10]
    with Session(store.engine) as session:
        session.execute(delete(SampleRecord).where(SampleRecord.evaluation_id == row.id,
                                                   SampleRecord.sample_id.not_in(keep)))
        session.commit()
    calls.clear()
    again = Evaluator(model, store, data, RunSettings()).run_benchmark("mmbench")
    assert again.status == "ok" and len(calls) == 1  # the 2 missing documents
    assert again.metrics == first.metrics and len(store.samples(row.id)) == 12
