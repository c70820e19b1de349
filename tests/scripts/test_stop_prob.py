"""scripts/stop_prob.py on a real (tiny) run asked with LLaVA-1.5's vicuna_v1 conversation: asked as the captions
were (the stored evaluation's prompt and conversation), the image and a caption, the model that wrote the caption
greedily has EOS as its likeliest next token there (so prompt, image and tokens line up with what it generated);
another model is probed on the same captions; a model name the store lacks is a clear error."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from csr_eval.micro.shipped import shipped_model
from csr_train.cli import main
from tests.conftest import REPO_ROOT
from tests.csr_train.conftest import csr_world, tiny_overrides  # noqa: F401 - csr_world: a fixture

SCRIPT = REPO_ROOT / "scripts" / "stop_prob.py"


def stop_prob(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def test_the_writer_stops_where_its_captions_stop(csr_world, tmp_path):
    run, db = tmp_path / "run", tmp_path / "results.db"
    assert main(["--config", "configs/micro.yaml", "--run-dir", str(run),
                 *tiny_overrides(csr_world, **{"eval.suite": "micro_chair", "eval.limit": 4, "eval.db": str(db),
                                               "reward.min_margin": 0, "conversation": "vicuna_v1"})]) == 0
    done = stop_prob("--db", db, "--captions-of", "run/base", "--model", f"base={shipped_model('micro-llava')}",
                     "--model", f"iter1={run / 'iter1' / 'model'}", "--csv", tmp_path / "p.csv")
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["model", "sample_id", "p_eos", "eos_top"]
    assert table.groupby("model").size().to_dict() == {"base": 4, "iter1": 4}
    assert table.p_eos.between(0, 1).all()
    assert table[table.model == "base"].eos_top.all()  # greedy: it stopped where EOS was the likeliest token
    assert ("after the 4 micro_chair captions of run/base (asked with 'Please describe this image in detail.', "
            "conversation vicuna_v1)") in done.stdout

    missing = stop_prob("--db", db, "--captions-of", "run/iter7", "--model", "x=micro-llava", "--csv",
                        tmp_path / "none.csv")
    assert missing.returncode == 2 and "no complete micro_chair evaluation of model 'run/iter7'" in missing.stderr
    assert not (tmp_path / "none.csv").exists()
