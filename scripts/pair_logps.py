"""Each pair's log-probability of its chosen and of its rejected answer under the model its DPO step starts from.

Why: that model is DPO's reference, and how likely the rejected answers were before training is what the
"likelihood displacement" accounts of DPO turn on (docs/micro-evidence.md, "The DPO term makes the rise"). The
tokens are the ones TRL trains on (csr_train.preference_data), scored by TRL's own reference pass; the rows are in
the pairs table's order, so the CSV can drive ``scripts/rerun_iteration.py --filter``. Research tool.

  python scripts/pair_logps.py RUN --out FILE.csv [--iteration T]   (T: the last iteration with pairs)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from csr_eval.errors import InputError
from csr_eval.micro.shipped import resolve_model
from csr_train.config import load_csr_config
from csr_train.dpo import build_trainer
from csr_train.run_dir import RunDirectory


def pair_logps(run: Path, t: int | None = None) -> pd.DataFrame:
    """Columns ``chosen_logp`` and ``rejected_logp`` (nats, summed over each answer's tokens, EOS included)."""
    config = load_csr_config(str(run / "config.yaml"))
    directory = RunDirectory(run)
    curated = [int(k) for k in directory.state["iterations"] if directory.done(int(k), "pairs")]
    t = max(curated, default=None) if t is None else t
    if t not in curated:
        raise InputError(run, f"no pairs for iteration {t}" if t is not None else "no iteration has pairs yet")
    rows = directory.read_pairs(t)
    start = resolve_model(directory.model_for(t, str(resolve_model(config.model.base))))
    with tempfile.TemporaryDirectory() as scratch:
        trainer, _ = build_trainer(str(start), rows, Path(config.data.images), config.dpo, Path(scratch), config.seed,
                                   device=config.model.device, dtype=config.model.dtype,
                                   conversation=config.conversation, pad_to_square=config.model.pad_to_square)
        scores = [trainer.compute_ref_log_probs(trainer.model, trainer.data_collator([example]))
                  for example in trainer.train_dataset]
    return pd.DataFrame({"chosen_logp": [float(c[0]) for c, _ in scores],
                         "rejected_logp": [float(r[0]) for _, r in scores]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--iteration", type=int)
    args = parser.parse_args(argv)
    try:
        table = pair_logps(args.run, args.iteration)
    except InputError as exc:
        print(f"pair_logps: error: {exc}", file=sys.stderr)
        return 2
    partial = args.out.with_name(args.out.name + ".partial")  # an interrupted write never looks complete
    table.to_csv(partial, index=False)
    partial.replace(args.out)
    print(table.describe().to_string(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
