"""``csr-eval --model base --suite ...`` end to end on the micro-world: store, resume, skip, adapters, gate."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from csr_eval.cli import main  # noqa: E402
from csr_eval.data_config import DataConfig  # noqa: E402
from csr_eval.evaluate import Evaluator, RunSettings  # noqa: E402
from csr_eval.registry import ModelRegistry  # noqa: E402
from csr_eval.store import ResultsStore, config_hash  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A user's working folder: the repo's configs, a fresh database, no runs, no benchmark data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CSR_DATA_DIR", raising=False)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "models.yaml").write_text((REPO / "configs" / "models.yaml").read_text())
    return tmp_path


def _run_json(capsys, *argv) -> tuple[int, dict]:
    code = main(list(argv) + ["--json"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # exactly one JSON object on stdout
    return code, json.loads(out)


def test_suite_all_runs_micro_and_skips_missing_real_data(workdir, capsys):
    code, report = _run_json(capsys, "--model", "base", "--suite", "all", "--limit", "4")
    assert code == 0
    benchmarks = report["benchmarks"]
    assert [n for n, b in benchmarks.items() if b["status"] == "ok"] == ["micro_pope", "micro_chair", "micro_mme"]
    assert benchmarks["pope"]["status"] == "skipped" and "data/coco/val2014" in benchmarks["pope"]["reason"]
    assert "cocodataset.org" in benchmarks["chair"]["reason"]
    assert all(b["status"] == "skipped" for n, b in benchmarks.items() if not n.startswith("micro_"))
    pope = benchmarks["micro_pope"]["metrics"]
    assert set(pope) >= {"random", "popular", "adversarial", "mean_f1"} and pope["random"]["n"] == 4
    assert {"chair_s", "chair_i", "recall"} <= set(benchmarks["micro_chair"]["metrics"])
    assert report["micro_aggregate"]["columns"] == ["MME_P", "POPE", "CHAIR_S", "CHAIR_I"]
    assert report["aggregate"]["score"] is None
    store = ResultsStore(workdir / "results" / "csr.db")
    assert {e.benchmark for e in store.evaluations(model="base")} == {"micro_pope", "micro_chair", "micro_mme"}
    [chair] = store.evaluations(model="base", benchmark="micro_chair")
    samples = store.samples(chair.id)
    assert len(samples) == 4 and all(s["correct"] is not None for s in samples)
    assert all(Path(s["extra"]["image"]).is_file() and "ground_truth" in s["extra"] for s in samples)
    assert chair.config["prompt"] == "Please describe this image in detail." and chair.config["max_new_tokens"] == 64


def test_the_shipped_micro_qwen_runs_the_micro_suite_by_name(workdir, capsys):
    """The second family's shipped model (a Qwen2.5-VL) loads by name and answers every micro benchmark."""
    code, report = _run_json(capsys, "--model", "micro-qwen", "--suite", "micro", "--limit", "4")
    assert code == 0 and report["model"] == "micro-qwen"
    assert all(b["status"] == "ok" for b in report["benchmarks"].values())
    assert report["benchmarks"]["micro_pope"]["metrics"]["random"]["n"] == 4
    store = ResultsStore(workdir / "results" / "csr.db")
    [chair] = store.evaluations(model="micro-qwen", benchmark="micro_chair")
    assert len(store.samples(chair.id)) == 4 and all(s["answer"] for s in store.samples(chair.id))


def test_unknown_model_and_suite_fail_clearly(workdir, capsys):
    assert main(["--model", "llava15", "--suite", "micro"]) == 2
    assert ("Known: base, llava-1.5-13b, llava-1.5-7b, micro-llava, micro-qwen, qwen2.5-vl-3b, qwen2.5-vl-7b, "
            "qwen3-vl-4b, qwen3-vl-8b") in capsys.readouterr().err
    assert main(["--model", "base", "--suite", "halucination"]) == 2
    assert "unknown suite or benchmark 'halucination'" in capsys.readouterr().err


def test_rerun_resumes_from_stored_samples(workdir):
    store = ResultsStore(workdir / "r.db")
    model = ModelRegistry(None, workdir / "configs" / "models.yaml").resolve("base")
    seen = []
    first = Evaluator(model, store, DataConfig(), RunSettings(limit=3), progress=lambda *a: seen.append(a))
    assert first.run_benchmark("micro_pope").status == "ok"
    assert seen[0] == ("micro_pope", 0, 9)
    seen.clear()
    again = Evaluator(model, store, DataConfig(), RunSettings(limit=3), progress=lambda *a: seen.append(a))
    outcome = again.run_benchmark("micro_pope")
    assert outcome.status == "ok" and seen == []  # nothing left to answer
    assert again._runner is None  # the model was not even loaded


def test_the_vicuna_v1_system_prompt_decides_which_answers_are_reused(workdir):
    """Answers are stored under the system prompt's wording: a store holding vicuna_v1 answers made under another
    wording (the earlier, conv_vicuna_v0 one) answers again instead of reusing them."""
    from csr_eval.runner import VICUNA_V1_SYSTEM

    store = ResultsStore(workdir / "r.db")
    model = ModelRegistry(None, workdir / "configs" / "models.yaml").resolve("base")
    settings = RunSettings(limit=2, conversation="vicuna_v1")
    assert Evaluator(model, store, DataConfig(), settings).run_benchmark("micro_pope").status == "ok"
    config = store.evaluations()[0].config
    assert config["system_prompt"] == VICUNA_V1_SYSTEM
    earlier = {k: v for k, v in config.items() if k != "system_prompt"}  # what a store written before held
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE evaluations SET config_hash = ?", (config_hash(earlier),))
    seen = []
    again = Evaluator(model, store, DataConfig(), settings, progress=lambda *a: seen.append(a))
    assert again.run_benchmark("micro_pope").status == "ok" and seen[0] == ("micro_pope", 0, 6)  # answered anew


def test_killed_run_leaves_nothing_complete_and_the_rerun_finishes(workdir):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "csr_eval", "--model", "base", "--suite", "micro_pope", "--limit", "100",
           "--batch-size", "4", "--db", str(workdir / "k.db")]
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = None
    deadline = time.time() + 240
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if (workdir / "k.db").exists():
            store = store or ResultsStore(workdir / "k.db")
            running = store.evaluations(complete_only=False)
            stored = len(store.samples(running[0].id)) if running else 0
            if stored >= 64:
                break
    assert proc.poll() is None, "the evaluation finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.evaluations() == []  # no complete row
    [row] = store.evaluations(complete_only=False)
    assert row.status == "running" and 64 <= len(store.samples(row.id)) < 300
    model = ModelRegistry(None, workdir / "configs" / "models.yaml").resolve("base")
    seen = []
    outcome = Evaluator(model, store, DataConfig(), RunSettings(limit=100, batch_size=4),
                        progress=lambda *a: seen.append(a)).run_benchmark("micro_pope")
    assert outcome.status == "ok" and seen[0][1] >= 64  # started from what was stored
    assert len(store.samples(row.id)) == 300 and [e.status for e in store.evaluations()] == ["complete"]


def test_lora_adapter_model_runs_through_the_same_path(workdir, capsys):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    from csr_eval.micro.shipped import shipped_model

    base = AutoModelForImageTextToText.from_pretrained(shipped_model("micro-llava"))
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=r".*language_model.*\.(q_proj|v_proj)"))
    lora.save_pretrained(workdir / "adapter")
    registry = workdir / "configs" / "models.yaml"
    registry.write_text(registry.read_text() + f"  tiny-lora:\n    path: micro-llava\n    adapter: {workdir / 'adapter'}\n")
    code, report = _run_json(capsys, "--model", "tiny-lora", "--suite", "micro_pope", "--limit", "2")
    assert code == 0 and report["benchmarks"]["micro_pope"]["status"] == "ok"
    [model] = [m for m in ResultsStore(workdir / "results" / "csr.db").models() if m.name == "tiny-lora"]
    assert model.path == str(workdir / "adapter") and model.base_model.endswith("micro-llava")


def test_gate_passes_on_equal_results_and_fails_on_a_doctored_better_reference(workdir, capsys):
    code, report = _run_json(capsys, "--model", "base", "--suite", "micro", "--limit", "6")
    assert code == 0
    equal = workdir / "equal.json"
    equal.write_text(json.dumps(report))
    assert main(["check", "--model", "base", "--suite", "micro", "--limit", "6", "--against", str(equal)]) == 0
    assert "0 of 5 gated metrics regressed" in capsys.readouterr().out
    doctored = json.loads(json.dumps(report))
    chair = doctored["benchmarks"]["micro_chair"]["metrics"]
    chair["chair_s"] = max(0.0, chair["chair_s"] - 0.05)
    doctored["benchmarks"]["micro_pope"]["metrics"]["random"]["f1"] += 0.02
    better = workdir / "better.json"
    better.write_text(json.dumps(doctored))
    assert main(["check", "--model", "base", "--suite", "micro", "--limit", "6", "--against", str(better)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "random.f1" in out


def test_models_lists_names_and_export_writes_json_and_csv(workdir, capsys):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "run: none found" in listing and "llava-1.5-7b" in listing and "llava-hf/llava-1.5-7b-hf" in listing
    assert main(["--model", "base", "--suite", "micro_mme", "--limit", "2"]) == 0
    capsys.readouterr()
    assert main(["export", "--out", str(workdir / "e.json")]) == 0
    rows = json.loads((workdir / "e.json").read_text())
    assert [(r["model"], r["benchmark"]) for r in rows] == [("base", "micro_mme")]
    assert rows[0]["metrics"]["perception"] >= 0 and rows[0]["config"]["max_new_tokens"] == 128
    assert main(["export", "--samples", "--format", "csv", "--out", str(workdir / "s.csv")]) == 0
    import pandas as pd
    frame = pd.read_csv(workdir / "s.csv")
    assert len(frame) == 4 * 2 * 2 and set(frame["parsed"]) <= {"yes", "no", "other"}


def test_missing_image_fails_the_benchmark_names_it_and_exits_1(workdir, capsys):
    questions, images = workdir / "mme_q", workdir / "mme_i"
    questions.mkdir()
    images.mkdir()
    (questions / "existence.txt").write_text("a.png\tIs there a dog? Please answer yes or no.\tYes\n"
                                             "a.png\tIs there a cup? Please answer yes or no.\tNo\n")
    code, report = _run_json(capsys, "--model", "base", "--suite", "mme", "--set", f"mme.questions={questions}",
                             "--set", f"mme.images={images}")
    assert code == 1
    assert report["benchmarks"]["mme"]["status"] == "failed"
    assert "image not found" in report["benchmarks"]["mme"]["reason"] and "a.png" in report["benchmarks"]["mme"]["reason"]
    [row] = ResultsStore(workdir / "results" / "csr.db").evaluations(benchmark="mme", complete_only=False)
    assert row.status == "failed" and row.metrics is None


def test_no_share_images_answers_every_question_with_generate_and_scores_the_same(workdir):
    """``--no-share-images`` reaches the runner; micro POPE (several questions per image) scores the same."""
    from csr_eval.cli import build_parser

    assert build_parser().parse_args(["run", "--model", "base", "--no-share-images"]).share_images is False
    model = ModelRegistry(None, workdir / "configs" / "models.yaml").resolve("base")
    outcomes = {}
    for share in (True, False):
        evaluator = Evaluator(model, ResultsStore(workdir / f"{share}.db"), DataConfig(),
                              RunSettings(limit=12, share_images=share))
        outcomes[share] = evaluator.run_benchmark("micro_pope")
        assert evaluator.runner.share_images is share
    assert outcomes[True].status == outcomes[False].status == "ok"
    assert outcomes[True].metrics == outcomes[False].metrics


def test_pad_to_square_answers_apart_from_cropped_ones(workdir):
    """LLaVA-1.5's own padding is part of what decides the answers: the same model and benchmark with and without
    it are two stored evaluations, and turning it on answers again."""
    store = ResultsStore(workdir / "r.db")
    model = ModelRegistry(None, workdir / "configs" / "models.yaml").resolve("base")
    assert Evaluator(model, store, DataConfig(), RunSettings(limit=2)).run_benchmark("micro_pope").status == "ok"
    seen = []
    padded = Evaluator(model, store, DataConfig(), RunSettings(limit=2, pad_to_square=True),
                       progress=lambda *a: seen.append(a))
    assert padded.run_benchmark("micro_pope").status == "ok" and seen[0] == ("micro_pope", 0, 6)
    assert padded.runner.processor.image_processor.do_pad
    assert [e.config.get("pad_to_square") for e in store.evaluations()] == [None, True]
