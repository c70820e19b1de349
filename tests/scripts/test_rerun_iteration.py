"""scripts/rerun_iteration.py on a real (tiny) run: the last iteration re-run from its pairs on a copy, with a
pair filter, the earlier evaluations carried over; wrong settings leave no copy behind."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from csr_eval.store import ResultsStore
from csr_train.cli import main
from tests.conftest import REPO_ROOT
from tests.csr_train.conftest import csr_world, tiny_overrides  # noqa: F401 - csr_world: a fixture

SCRIPT = REPO_ROOT / "scripts" / "rerun_iteration.py"


def rerun(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


@pytest.fixture(scope="module")
def run(csr_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rerun")
    run = tmp / "run"
    assert main(["--config", "configs/micro.yaml", "--run-dir", str(run),
                 *tiny_overrides(csr_world, **{"eval.suite": "micro_chair", "eval.limit": 3,
                                               "eval.db": str(tmp / "results.db"), "reward.min_margin": 0})]) == 0
    return run


def test_the_last_iteration_reruns_from_its_pairs_with_a_filter(run, tmp_path):
    pairs = pd.read_parquet(run / "iter1" / "pairs" / "pairs.parquet")
    assert len(pairs) >= 2
    out = tmp_path / "copy"
    done = rerun(run, out, "--from", "pairs", "--set", "reward.longer_chosen=drop", "--filter", "d.iloc[:1]")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"1 of {len(pairs)} pairs kept by --filter" in done.stderr
    assert len(pd.read_parquet(out / "iter1" / "pairs" / "pairs.parquet")) == 1
    assert (out / "iter1" / "model" / "config.json").is_file()
    state = json.loads((out / "csr_train_state.json").read_text())
    assert set(state["iterations"]["1"]) == {"generate", "pairs", "dpo", "eval"}
    assert "longer_chosen: drop" in (out / "config.yaml").read_text()
    models = {e.model for e in ResultsStore(f"{out}.db").evaluations(benchmark="micro_chair")}
    assert {"run/base", "copy/iter1"} <= models, models  # the base's evaluation carried over, the new one added
    assert pairs.equals(pd.read_parquet(run / "iter1" / "pairs" / "pairs.parquet"))  # the source is untouched


@pytest.mark.parametrize("setting, message", [("reward.nonsense=1", "unknown field 'reward.nonsense'"),
                                              ("reward.longer_chosen=shorter", "reward.longer_chosen"),
                                              ("seed=3", "prompts depend on the seed")])
def test_wrong_settings_leave_no_copy(run, tmp_path, setting, message):
    out = tmp_path / "copy"
    done = rerun(run, out, "--set", setting)
    assert done.returncode != 0 and message in done.stderr
    assert not out.exists() and not (tmp_path / "copy.db").exists()
