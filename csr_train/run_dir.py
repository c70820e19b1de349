"""The run directory: every stage's output and a manifest of which stages are done.

Layout::

    RUN/config.yaml               the settings of the run (``--resume`` reads them back)
    RUN/csr_train_state.json      stage → done, per iteration, plus each stage's summary (written atomically)
    RUN/csr_run.json              base model and finished iterations: the contract csr-eval's registry reads
    RUN/iter<t>/candidates/       search trees (or sampled responses), one JSON line per prompt, per shard
    RUN/iter<t>/pairs/            preference pairs (parquet, a `datasets` dataset) and their statistics
    RUN/iter<t>/trainer/          TRL checkpoints (a killed DPO resumes from the newest)
    RUN/iter<t>/model/            the merged model: the next iteration's policy and reference
    RUN/train.log                 the log

A stage is marked done only after its outputs are complete (written under a temporary name and renamed),
so a run killed at any point resumes at the first stage not marked done.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from csr_eval.errors import InputError
from csr_eval.registry import RUN_FILE

STATE_FILE = "csr_train_state.json"
PAIRS_FILE = "pairs.parquet"
STAGES = ("generate", "pairs", "dpo", "eval")


def _atomic_write_json(path: Path, data) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True, default=str)
        fh.write("\n")
    os.replace(tmp, path)


def check_writable(folder: Path) -> None:
    """Fail before any work when the run directory cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"  # per process: ranks probe the same folder at once
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InputError(folder, f"run directory is not writable ({exc.strerror or exc})") from None


class RunDirectory:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.state_path = self.path / STATE_FILE
        self.state = json.loads(self.state_path.read_text(encoding="utf-8")) if self.state_path.is_file() else \
            {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "iterations": {}}

    @classmethod
    def new(cls, runs_dir: Path, name: str) -> "RunDirectory":
        check_writable(Path(runs_dir))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(runs_dir) / f"{name}-{stamp}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = Path(runs_dir) / f"{name}-{stamp}-{suffix}"
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def existing(cls, path: Path) -> "RunDirectory":
        if not (Path(path) / "config.yaml").is_file():
            raise InputError(path, "not a csr-train run directory (config.yaml missing)")
        check_writable(Path(path))
        return cls(path)

    def iteration_dir(self, t: int) -> Path:
        return self.path / f"iter{t}"

    def pairs_file(self, t: int) -> Path:
        """Iteration t's preference pairs (parquet, a ``datasets`` dataset)."""
        return self.iteration_dir(t) / "pairs" / PAIRS_FILE

    def read_pairs(self, t: int) -> list[dict]:
        """Iteration t's pair rows, in the file's order (what DPO trains on)."""
        from datasets import Dataset  # imports pyarrow and pandas

        return Dataset.from_parquet(str(self.pairs_file(t))).to_list()

    def _entry(self, t: int) -> dict:
        return self.state["iterations"].setdefault(str(t), {})

    def done(self, t: int, stage: str) -> bool:
        return bool(self.state["iterations"].get(str(t), {}).get(stage, {}).get("done"))

    def mark_done(self, t: int, stage: str, summary: dict | None = None) -> None:
        self._entry(t)[stage] = {"done": True, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "summary": summary or {}}
        _atomic_write_json(self.state_path, self.state)

    def register(self, base_model: str, iterations: int, asked: dict | None = None) -> None:
        """csr_run.json: the base and every iteration whose merged model is complete, and how the run asks them
        (``asked``: conversation, pad_to_square, dtype — csr-eval's defaults for these models)."""
        items = [{"iteration": t, "model": f"iter{t}/model"} for t in range(1, iterations + 1)
                 if self.done(t, "dpo")]
        _atomic_write_json(self.path / RUN_FILE, {"base_model": str(base_model), "iterations": items,
                                                  **({"asked": asked} if asked else {})})

    def model_for(self, t: int, base_model: str) -> str:
        """The policy that generates in iteration t: the base for t = 1, else the merged model of t − 1."""
        return str(base_model) if t == 1 else str(self.iteration_dir(t - 1) / "model")
