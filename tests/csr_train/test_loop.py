"""The whole loop through the real CLI on the micro models: one iteration end to end, resume after an
interruption in every stage, and what the run leaves for csr-eval."""

from __future__ import annotations

import json
import math

import pytest

from csr_train.cli import main
from tests.csr_train.conftest import tiny_overrides

CONFIG = "configs/micro-paper.yaml"  # CSR as written: the formula checks below are the paper's


@pytest.fixture(scope="module")
def finished_run(csr_world, tmp_path_factory):
    """One full iteration with a (limited) evaluation of base and iter1."""
    tmp = tmp_path_factory.mktemp("loop")
    run, db = tmp / "run", tmp / "results.db"
    code = main(["--config", CONFIG, "--run-dir", str(run),
                 *tiny_overrides(csr_world, **{"eval.suite": "micro_pope,micro_chair", "eval.limit": 6,
                                               "eval.db": str(db)})])
    assert code == 0
    return run, db


def _state(run):
    return json.loads((run / "csr_train_state.json").read_text())


def test_one_iteration_end_to_end(finished_run):
    run, _ = finished_run
    state = _state(run)
    assert state["iterations"]["0"]["eval"]["done"]
    assert all(state["iterations"]["1"][s]["done"] for s in ("generate", "pairs", "dpo", "eval"))
    assert (run / "iter1" / "model" / "config.json").is_file()
    assert (run / "config.yaml").is_file() and (run / "train.log").is_file()
    dpo = state["iterations"]["1"]["dpo"]["summary"]
    assert dpo["steps"] == 2 and 0 < dpo["trainable_parameters"] < 500_000  # the LoRA, not the model
    pairs = state["iterations"]["1"]["pairs"]["summary"]
    assert pairs["pairs"] + sum(pairs["skipped"].values()) == 4
    assert pairs["ground_truth"]["pairs_scored"] == pairs["pairs"]
    assert sum(pairs["ground_truth"]["kinds"].values()) == pytest.approx(1.0)


def test_pair_dataset_schema(finished_run):
    from datasets import Dataset
    run, _ = finished_run
    data = Dataset.from_parquet(str(run / "iter1" / "pairs" / "pairs.parquet"))
    assert set(data.column_names) == {"prompt_id", "image", "prompt", "iteration", "chosen", "rejected",
                                      "chosen_sentences", "rejected_sentences", "chosen_reward", "rejected_reward",
                                      "margin", "n_candidates", "chosen_repeats", "rejected_repeats",
                                      "gt_chosen_hallucinated", "gt_rejected_hallucinated", "gt_chosen_objects",
                                      "gt_rejected_objects", "gt_kind"}
    for row in data:
        assert row["chosen"] != row["rejected"] and row["iteration"] == 1
        assert row["chosen"] == " ".join(s["text"] for s in row["chosen_sentences"])
        for s in row["chosen_sentences"] + row["rejected_sentences"]:
            assert set(s) == {"text", "r_t", "r_i", "r", "lm_score", "end_prob"}
            assert s["end_prob"] is None or 0.0 <= s["end_prob"] <= 1.0  # P(EOS) after it, where EOS was a child
            assert s["r"] == pytest.approx(0.9 * s["r_i"] + 0.1 * s["r_t"])
        mean = sum(s["r"] for s in row["chosen_sentences"]) / len(row["chosen_sentences"])
        assert row["chosen_reward"] == pytest.approx(mean)
        assert row["margin"] == pytest.approx(row["chosen_reward"] - row["rejected_reward"]) and row["margin"] >= 0


def test_the_run_resolves_in_csr_eval(finished_run):
    from csr_eval.registry import ModelRegistry
    from csr_eval.store import ResultsStore
    run, db = finished_run
    registry = ModelRegistry(run=run)
    iter1 = registry.resolve("iter1")
    assert iter1.iteration == 1 and iter1.path == str(run / "iter1" / "model")
    names = {m.name for m in ResultsStore(str(db)).models()}
    assert {f"{run.name}/base", f"{run.name}/iter1"} <= names


def test_summary_command(finished_run, capsys):
    run, _ = finished_run
    assert main(["summary", str(run)]) == 0
    out = capsys.readouterr().out
    assert "iter1" in out and "CHAIR_S" in out


@pytest.mark.parametrize("stage, spec", [("generate", "generate:1"), ("pairs", "pairs_done:1"),
                                         ("dpo", "dpo:1"), ("eval", "eval_done:1")])
def test_resume_after_an_interruption(csr_world, tmp_path, monkeypatch, stage, spec):
    run = tmp_path / "run"
    extra = {"eval.suite": "micro_chair", "eval.limit": 2, "eval.db": str(tmp_path / "r.db")} \
        if stage == "eval" else {}
    monkeypatch.setenv("CSR_TRAIN_INTERRUPT", spec)
    assert main(["--config", CONFIG, "--run-dir", str(run), *tiny_overrides(csr_world, **extra)]) == 130
    assert not _state(run)["iterations"].get("1", {}).get(stage, {}).get("done")
    monkeypatch.delenv("CSR_TRAIN_INTERRUPT")
    assert main(["--resume", str(run)]) == 0
    state = _state(run)["iterations"]["1"]
    assert all(state[s]["done"] for s in ("generate", "pairs", "dpo", "eval"))
    lines = [json.loads(x) for x in (run / "iter1" / "candidates" / "shard-00000-of-00001.jsonl").open()]
    assert len(lines) == len({r["prompt_id"] for r in lines}) == 4  # nothing lost, nothing generated twice
    if stage == "dpo":
        assert state["dpo"]["summary"]["resumed_from"] == "checkpoint-1"
        assert state["dpo"]["summary"]["steps"] == 2


def test_same_seed_same_preference_data(csr_world, tmp_path):
    from datasets import Dataset
    rows = []
    for name in ("a", "b"):
        assert main(["--config", CONFIG, "--run-dir", str(tmp_path / name), "--stop-after", "pairs",
                     *tiny_overrides(csr_world)]) == 0
        rows.append(Dataset.from_parquet(str(tmp_path / name / "iter1" / "pairs" / "pairs.parquet")).to_list())
    assert rows[0] == rows[1]


def test_missing_and_corrupt_images_are_skipped_and_counted(csr_world, tmp_path, caplog):
    import shutil
    world = tmp_path / "world"
    shutil.copytree(csr_world, world)
    images = sorted((world / "images" / "csr").glob("*.png"))
    images[0].unlink()
    images[1].write_bytes(b"not a png")
    run = tmp_path / "run"
    assert main(["--config", CONFIG, "--run-dir", str(run), "--stop-after", "pairs",
                 *tiny_overrides(world, **{"data.prompts_per_iteration": 0})]) == 0
    summary = _state(run)["iterations"]["1"]["pairs"]["summary"]
    assert summary["skipped"]["image_unreadable"] == 2
    assert summary["pairs"] + sum(summary["skipped"].values()) == 8
    assert "image unreadable" in (run / "train.log").read_text()


def test_an_image_gone_before_dpo_stops_the_run_with_its_name_and_keeps_the_pairs(csr_world, tmp_path, capsys):
    import shutil

    from datasets import Dataset
    world = tmp_path / "world"
    shutil.copytree(csr_world, world)
    run, overrides = tmp_path / "run", tiny_overrides(world)
    assert main(["--config", CONFIG, "--run-dir", str(run), "--stop-after", "pairs", *overrides]) == 0
    pairs = run / "iter1" / "pairs" / "pairs.parquet"
    gone = Dataset.from_parquet(str(pairs)).to_list()[0]["image"]
    (world / "images" / "csr" / gone).unlink()
    capsys.readouterr()
    assert main(["--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert gone in err and "pair 0" in err and "not a file" in err
    state = _state(run)["iterations"]["1"]
    assert state["pairs"]["done"] and not state.get("dpo", {}).get("done") and pairs.is_file()


def test_a_sentence_end_the_tokenizer_lacks_stops_the_run_before_the_base_is_evaluated(csr_world, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--config", CONFIG, "--run-dir", str(run), *tiny_overrides(csr_world, **{
        "eval.suite": "micro", "eval.db": str(tmp_path / "r.db"), "search.sentence_end": '["xyzzy"]'})]) == 2
    assert "search.sentence_end" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists()  # no hour of evaluation before the typo shows


def test_invalid_config_names_the_field(tmp_path, capsys):
    assert main(["--config", CONFIG, "--run-dir", str(tmp_path / "r"), "--set", "search.mode=fast"]) == 2
    err = capsys.readouterr().err
    assert "search.mode" in err and "paper, official" in err and "fast" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("reward:\n  kind: clip_onyl\n")
    assert main(["--config", str(bad), "--run-dir", str(tmp_path / "r2")]) == 2
    assert "reward.kind" in capsys.readouterr().err
    bad.write_text("search:\n  beams: 3\n")
    assert main(["--config", str(bad), "--run-dir", str(tmp_path / "r3")]) == 2
    assert "search.beams" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_unwritable_run_directory_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a-file"  # a directory cannot be made inside a file (even by root, unlike chmod)
    blocker.write_text("x")
    assert main(["--config", CONFIG, "--run-dir", str(blocker / "run")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_resume_refuses_new_settings(finished_run, capsys):
    run, _ = finished_run
    assert main(["--resume", str(run), "--set", "seed=3"]) == 2
    assert "saved config.yaml" in capsys.readouterr().err


def test_rewards_are_finite(finished_run):
    from datasets import Dataset
    run, _ = finished_run
    for row in Dataset.from_parquet(str(run / "iter1" / "pairs" / "pairs.parquet")):
        assert all(math.isfinite(s["r"]) for s in row["chosen_sentences"] + row["rejected_sentences"])


def test_evidence_table(finished_run, capsys):
    run, _ = finished_run
    assert main(["evidence", "--group", f"CSR={run},{run}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    iter1 = next(line for line in lines if "| CSR | iter1 | 2 |" in line)
    assert "± 0.0" in iter1  # two copies of one run: mean ± std with zero spread
    assert main(["evidence", "--group", f"CSR={run / 'missing'}"]) == 2
    assert main(["evidence", "--group", f"CSR={run}", "--columns", "CHAIR_S, POPE F1 mean"]) == 0
    header, _, base, iter1 = capsys.readouterr().out.splitlines()[:4]
    assert header == "| method | model | runs | CHAIR_S | POPE F1 mean |"
    pope = [float(base.split("|")[5]), float(iter1.split("|")[5])]
    assert all(0 <= f <= 100 for f in pope)
    assert main(["evidence", "--group", f"CSR={run}", "--columns", "P(end) chosen"]) == 0
    _, _, base, iter1 = capsys.readouterr().out.splitlines()[:4]
    assert "–" in base and 0 <= float(iter1.split("|")[4]) <= 100  # the base has no pairs; iter1's in percent
    assert main(["evidence", "--group", f"CSR={run}", "--columns", "CHAIR_S,len2"]) == 2
    assert "unknown column(s) ['len2']" in capsys.readouterr().err


def test_evidence_counts_only_runs_that_finished_the_iteration(finished_run, tmp_path, capsys):
    run, _ = finished_run
    training = tmp_path / "training"  # a copy whose iteration 1 has its pairs but is not evaluated yet
    training.mkdir()
    state = _state(run)
    del state["iterations"]["1"]["eval"]
    (training / "csr_train_state.json").write_text(json.dumps(state))
    assert main(["evidence", "--group", f"CSR={run},{training}", "--columns", "CHAIR_S,GT CHAIR_S chosen"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert rows[0].startswith("| CSR | base | 2 |") and rows[1].startswith("| CSR | iter1 | 1 |")
    assert "±" not in rows[1]  # one run's values, not a mean over two for the pairs and one for CHAIR


def test_repetition_detector():
    from csr_eval.benchmarks.chair import CocoObjectVocabulary
    from csr_train.evidence import repeats_an_object
    vocab = CocoObjectVocabulary.reference()
    assert repeats_an_object("There is a cup at the top. A cup is at the left.", vocab)
    assert not repeats_an_object("There is a cup at the top. A dog is at the left.", vocab)


@pytest.mark.parametrize("config", ["configs/llava15-7b.yaml", "configs/llava15-13b.yaml"])
def test_llava15_configs_run_on_the_micro_model(csr_world, tmp_path, config):
    """The GPU configs' own training settings (LoRA r 128, gradient checkpointing, ...) on the micro model, CPU."""
    from csr_train.config import load_csr_config
    settings = load_csr_config(config)
    assert (settings.dpo.lora_r, settings.dpo.lora_alpha, settings.dpo.learning_rate) == (128, 256, 1e-7)
    assert settings.model.base.startswith("llava-hf/llava-1.5-") and settings.search.max_sentence_tokens == 74
    run = tmp_path / "run"
    assert main(["--config", config, "--run-dir", str(run), "--set", "model.base=micro-llava",
                 "--set", "model.device=cpu", "--set", "model.dtype=float32", "--set", "dpo.bf16=false",
                 "--set", "reward.clip=micro-clip", *tiny_overrides(csr_world, **{"search.max_sentences": 2})]) == 0
    assert _state(run)["iterations"]["1"]["dpo"]["summary"]["trainable_parameters"] > 1_000_000  # r = 128
    assert isinstance(_state(run)["iterations"]["1"]["pairs"]["summary"]["cleaned_sentences"], dict)  # released
    assert settings.model.pad_to_square  # LLaVA-1.5's padding: the merged model's processor keeps it
    assert json.loads((run / "iter1" / "model" / "processor_config.json").read_text())["image_processor"]["do_pad"]


def test_llava15_config_runs_with_llava15s_tokenization(csr_world, llava_hf_layout, tmp_path):
    """configs/llava15-7b.yaml on a model laid out as llava-hf's LLaVA-1.5 (a Llama tokenizer adding BOS, the
    llava-hf chat template): search, pairs, DPO and merge run with the tokenization the micro models lack."""
    run = tmp_path / "run"
    assert main(["--config", "configs/llava15-7b.yaml", "--run-dir", str(run), "--set", f"model.base={llava_hf_layout}",
                 "--set", "model.device=cpu", "--set", "model.dtype=float32", "--set", "dpo.bf16=false",
                 "--set", "reward.clip=micro-clip", *tiny_overrides(csr_world, **{"search.max_sentences": 2}),
                 "--set", "reward.clean_tree=none"]) == 0  # random weights write junk the released cleaning drops
    iteration = _state(run)["iterations"]["1"]
    assert all(iteration[stage]["done"] for stage in ("generate", "pairs", "dpo"))
    assert (run / "iter1" / "model" / "model.safetensors").is_file()


def _check(run, db, *extra):
    from csr_eval.cli import main as csr_eval
    return csr_eval(["check", "--model", "iter1", "--suite", "micro_pope,micro_chair", "--limit", "6",
                     "--run", str(run), "--db", str(db), *extra])


def test_csr_eval_asks_a_runs_models_as_the_run_did(csr_world, tmp_path):
    """A run with LLaVA-1.5's protocol (vicuna_v1, padded images) records it in csr_run.json; `csr-eval --model
    iter1` then asks the same way and reuses the loop's stored evaluation; another conversation answers anew."""
    from csr_eval.cli import main as csr_eval
    from csr_eval.store import ResultsStore
    run, db = tmp_path / "run", tmp_path / "r.db"
    assert main(["--config", CONFIG, "--run-dir", str(run), *tiny_overrides(csr_world, **{
        "conversation": "vicuna_v1", "model.pad_to_square": "true", "eval.suite": "micro_pope", "eval.limit": 2,
        "eval.db": str(db)})]) == 0
    assert json.loads((run / "csr_run.json").read_text())["asked"] == {"conversation": "vicuna_v1",
                                                                      "pad_to_square": True, "dtype": "float32"}
    evaluate = ["run", "--model", "iter1", "--run", str(run), "--suite", "micro_pope", "--limit", "2", "--db", str(db)]
    assert csr_eval(evaluate) == 0
    stored = ResultsStore(str(db)).evaluations(model=f"{run.name}/iter1")
    assert len(stored) == 1 and stored[0].config["conversation"] == "vicuna_v1" and stored[0].config["pad_to_square"]
    assert csr_eval([*evaluate, "--conversation", "chat_template", "--no-pad-to-square"]) == 0
    assert len(ResultsStore(str(db)).evaluations(model=f"{run.name}/iter1")) == 2


def test_gate_against_base_after_a_run(finished_run, capsys):
    """docs/evaluation.md's command after a real run: --against resolves `base` as --model does (the run's
    `<run>/base`, evaluated by the training loop) and the verdict decides the exit code."""
    from csr_eval.store import ResultsStore
    run, db = finished_run
    stored_base = ResultsStore(str(db)).latest_metrics(f"{run.name}/base")
    code = _check(run, db, "--against", "base")
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert f"iter1 against base" in out and "gated metrics regressed" in out
    row = next(line for line in out.splitlines() if line.startswith("micro_chair") and "chair_s" in line)
    assert float(row.split()[2]) == pytest.approx(100 * stored_base["micro_chair"]["chair_s"], abs=0.005)
    assert (code == 1) == ("REGRESSED" in out)


def test_gate_evaluates_a_reference_it_has_no_results_for(finished_run, tmp_path, capsys):
    from csr_eval.store import ResultsStore
    run, _ = finished_run
    db = tmp_path / "empty.db"
    code = _check(run, db, "--against", "base")
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert set(ResultsStore(str(db)).latest_metrics(f"{run.name}/base")) == {"micro_pope", "micro_chair"}


def test_gate_names_an_unknown_reference(finished_run, tmp_path, capsys):
    run, db = finished_run
    assert _check(run, db, "--against", "iter9") == 2
    err = capsys.readouterr().err
    assert "--against iter9" in err and "iter9 not in this run" in err


def test_oracle_control_runs_through_the_same_loop(csr_world, tmp_path):
    """reward.kind oracle: same search, pairs and DPO; the chosen answer's ground-truth score is never below
    the rejected one's (the oracle's differences are multiples of 45 points; R_T adds at most 0.1 a sentence)."""
    from datasets import Dataset

    from csr_train.oracle import OracleJudge
    run = tmp_path / "oracle"
    assert main(["--config", CONFIG, "--run-dir", str(run), *tiny_overrides(
        csr_world, **{"reward.kind": "oracle", "reward.aggregate": "sum"})]) == 0
    judge = OracleJudge(csr_world / "annotations")
    rows = Dataset.from_parquet(str(run / "iter1" / "pairs" / "pairs.parquet")).to_list()
    assert rows
    for row in rows:
        truth = judge.truth(row["image"])

        def oracle(side):
            texts = [s["text"] for s in row[f"{side}_sentences"]]
            return sum(judge.sentence_score(truth, s, texts[:i]) for i, s in enumerate(texts))
        assert oracle("chosen") >= oracle("rejected")
        assert [s["r_i"] for s in row["chosen_sentences"]] == [
            judge.sentence_score(truth, s["text"], [p["text"] for p in row["chosen_sentences"][:i]])
            for i, s in enumerate(row["chosen_sentences"])]
    state = _state(run)
    assert state["iterations"]["1"]["dpo"]["done"]


def test_step_pairs_run_through_the_same_loop(csr_world, tmp_path):
    """reward.pairs steps: the pairs file holds each pair's prefix, several pairs may come from one prompt, and
    DPO trains on them (plain-text prompts: the rendered user turn and the prefix)."""
    from datasets import Dataset
    run = tmp_path / "steps"
    assert main(["--config", CONFIG, "--run-dir", str(run),
                 *tiny_overrides(csr_world, **{"reward.pairs": "steps"})]) == 0
    rows = Dataset.from_parquet(str(run / "iter1" / "pairs" / "pairs.parquet")).to_list()
    assert len(rows) > len({r["prompt_id"] for r in rows})  # every prefix gives a pair (min_margin 0)
    assert any(r["prefix"] for r in rows)  # some after a first sentence
    for row in rows:
        assert row["chosen"] != row["rejected"] and row["chosen_reward"] >= row["rejected_reward"]
        assert row["chosen"] == " ".join(s["text"] for s in row["chosen_sentences"])  # "" is the end: no sentence
        assert all(s["end_prob"] is None for s in row["chosen_sentences"] + row["rejected_sentences"])
    state = _state(run)
    assert state["iterations"]["1"]["pairs"]["summary"]["pairs"] == len(rows)
    assert state["iterations"]["1"]["dpo"]["done"]
