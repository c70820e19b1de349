"""Generation sharded over 2 CPU processes with accelerate gives the same preference data as 1 process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from csr_train.cli import main
from tests.csr_train.conftest import tiny_overrides


@pytest.mark.skipif(shutil.which("accelerate") is None and not os.path.exists(
    os.path.join(os.path.dirname(sys.executable), "accelerate")), reason="accelerate CLI not installed")
def test_two_process_generation_equals_one_process(csr_world, tmp_path):
    from datasets import Dataset
    overrides = tiny_overrides(csr_world, **{"data.prompts_per_iteration": 6})
    assert main(["--config", "configs/micro.yaml", "--run-dir", str(tmp_path / "one"), "--stop-after", "pairs",
                 *overrides]) == 0
    launcher = os.path.join(os.path.dirname(sys.executable), "accelerate")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # (--multi_gpu = accelerate's multi-process launcher; gloo on CPU)
    result = subprocess.run(
        [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", "-m", "csr_train", "--config", "configs/micro.yaml", "--run-dir",
         str(tmp_path / "two"), "--stop-after", "pairs", *overrides],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    shards = sorted(p.name for p in (tmp_path / "two" / "iter1" / "candidates").iterdir())
    assert shards == ["shard-00000-of-00002.jsonl", "shard-00001-of-00002.jsonl"]
    one = Dataset.from_parquet(str(tmp_path / "one" / "iter1" / "pairs" / "pairs.parquet")).to_list()
    two = Dataset.from_parquet(str(tmp_path / "two" / "iter1" / "pairs" / "pairs.parquet")).to_list()
    assert [r["prompt_id"] for r in one] == [r["prompt_id"] for r in two]
    for a, b in zip(one, two):
        assert (a["chosen"], a["rejected"]) == (b["chosen"], b["rejected"])
        assert a["margin"] == pytest.approx(b["margin"], rel=1e-4)
