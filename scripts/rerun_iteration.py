"""Re-run the last iteration of a finished CSR run from one of its stages, on a copy, with other settings.

Why: to ask what one iteration's pairs or DPO step does, every variant must start from the same model and the
same candidates; re-running three iterations changes both. This copies RUN to OUT, marks the last iteration's
stages from FROM on as not done (and removes what they wrote), writes the --set overrides into the copy's
config.yaml and, with --filter, keeps only the pairs for which a pandas expression on the pairs table ``d`` is
true (or the rows of the table it returns: a subset, a new order). Then ``csr-train --resume OUT`` finishes
the iteration. Research tool for docs/micro-evidence.md; the prompts of an iteration depend on the seed, so
--set seed=... is refused (the candidates would not match).

  python scripts/rerun_iteration.py RUN OUT --from pairs [--set reward.longer_chosen=drop] [--filter EXPR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from csr_eval.errors import InputError
from csr_train.config import load_csr_config
from csr_train.run_dir import STAGES, STATE_FILE, RunDirectory

WRITTEN = {"generate": ("candidates",), "pairs": ("pairs",), "dpo": ("model", "trainer", "dpo_log.json"), "eval": ()}


def reopen(run: Path, start: str) -> int:
    """Mark the last iteration's stages from ``start`` on as not done; returns that iteration."""
    state_file = run / STATE_FILE
    state = json.loads(state_file.read_text())
    last = max(int(t) for t in state["iterations"])
    for stage in STAGES[STAGES.index(start):]:
        state["iterations"][str(last)].pop(stage, None)
        for name in WRITTEN[stage]:
            path = RunDirectory(run).iteration_dir(last) / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    state_file.write_text(json.dumps(state, indent=1))
    return last


def override(run: Path, settings: list[str], db: str) -> None:
    config_file = run / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["eval"]["db"] = db
    for item in settings:
        key, _, value = item.partition("=")
        if key == "seed":
            raise SystemExit("--set seed: an iteration's prompts depend on the seed; its candidates would not match")
        *sections, field = key.split(".")
        target = config
        for section in sections:
            target = target.setdefault(section, {})
        target[field] = yaml.safe_load(value)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    load_csr_config(config_file)  # an unknown field or a wrong value fails here, naming it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--from", dest="start", choices=STAGES, default="pairs")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--filter", help="pandas expression on the pairs table d: a row mask, or the rows to keep")
    parser.add_argument("--csr-train", default=str(Path(sys.executable).with_name("csr-train")))
    args = parser.parse_args()
    if args.filter and args.start not in ("generate", "pairs"):
        raise SystemExit("--filter changes the pairs: --from generate or pairs")
    if args.out.exists():
        raise SystemExit(f"{args.out} exists")
    shutil.copytree(args.run, args.out)
    db = f"{args.out}.db"
    try:
        override(args.out, args.settings, db)
        source_db = Path(yaml.safe_load((args.run / "config.yaml").read_text())["eval"]["db"])
        if source_db.is_file():  # the earlier iterations' evaluations, so the summary shows them (WAL included)
            with sqlite3.connect(source_db) as source, sqlite3.connect(db) as copy:
                source.backup(copy)
        t = reopen(args.out, args.start)
    except BaseException:  # no half-made copy left behind
        shutil.rmtree(args.out)
        Path(db).unlink(missing_ok=True)
        raise
    resume = [args.csr_train, "--resume", str(args.out)]
    if args.filter:
        subprocess.run([*resume, "--stop-after", "pairs"], check=True)
        pairs_file = RunDirectory(args.out).pairs_file(t)
        d = pd.read_parquet(pairs_file)
        kept = eval(args.filter, {"d": d, "pd": pd})  # noqa: S307 - the user's own expression
        kept = kept if isinstance(kept, pd.DataFrame) else d[kept]
        kept.reset_index(drop=True).to_parquet(pairs_file)
        print(f"iteration {t}: {len(kept)} of {len(d)} pairs kept by --filter", file=sys.stderr)
    subprocess.run(resume, check=True)
    return subprocess.run([args.csr_train, "summary", str(args.out)]).returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InputError as exc:
        print(f"rerun_iteration: error: {exc}", file=sys.stderr)
        sys.exit(2)
