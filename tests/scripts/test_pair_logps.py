"""scripts/pair_logps.py on a real (tiny) run: each pair's log-probabilities under the model its DPO step starts from
are the ones TRL's own first step reports (one batch holds every pair, and the fresh LoRA changes nothing yet);
scoring with the trained model instead fails it."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from csr_train.cli import main
from tests.conftest import REPO_ROOT
from tests.csr_train.conftest import csr_world, tiny_overrides  # noqa: F401 - csr_world: a fixture

SCRIPT = REPO_ROOT / "scripts" / "pair_logps.py"


def pair_logps(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def test_the_log_probabilities_are_those_trl_trains_from(csr_world, tmp_path):
    run = tmp_path / "run"
    assert main(["--config", "configs/micro.yaml", "--run-dir", str(run),
                 *tiny_overrides(csr_world, **{"reward.min_margin": 0, "dpo.batch_size": 16, "dpo.max_steps": 1,
                                               "dpo.warmup_ratio": 0})]) == 0  # one step, taken at full rate
    pairs = pd.read_parquet(run / "iter1" / "pairs" / "pairs.parquet")
    done = pair_logps(run, "--out", tmp_path / "logps.csv")
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_csv(tmp_path / "logps.csv")
    assert list(table.columns) == ["chosen_logp", "rejected_logp"] and len(table) == len(pairs) >= 2
    assert (table < 0).all().all()
    first = next(h for h in json.loads((run / "iter1" / "dpo_log.json").read_text())["history"] if "loss" in h)
    assert table.chosen_logp.mean() == pytest.approx(first["logps/chosen"], abs=1e-3)
    assert table.rejected_logp.mean() == pytest.approx(first["logps/rejected"], abs=1e-3)

    missing = pair_logps(run, "--iteration", 2, "--out", tmp_path / "none.csv")
    assert missing.returncode == 2 and "no pairs for iteration 2" in missing.stderr
    assert not (tmp_path / "none.csv").exists()
