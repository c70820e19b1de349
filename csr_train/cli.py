"""The ``csr-train`` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from csr_eval.config import load_config
from csr_eval.errors import CsrEvalError
from csr_train.evidence import COLUMNS, evidence_table
from csr_train.pretrain_micro.config import PretrainConfig
from csr_train.report import format_summary
from csr_train.run_dir import STAGES, STATE_FILE


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csr-train", description="Calibrated Self-Rewarding training.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="the CSR loop (the default: `csr-train --config configs/micro.yaml`)")
    run.add_argument("--config", type=Path, help="YAML settings (configs/micro.yaml, configs/llava15-7b.yaml ...)")
    run.add_argument("--resume", type=Path, metavar="RUN", help="continue this run directory where it stopped "
                                                                 "(its saved config.yaml is used)")
    run.add_argument("--run-dir", type=Path, help="write the run here instead of <runs_dir>/<name>-<time>")
    run.add_argument("--iterations", type=_positive, help="overrides the config's iterations")
    run.add_argument("--seed", type=int, help="overrides the config's seed")
    run.add_argument("--stop-after", choices=STAGES,
                     help="stop after this stage of the next unfinished iteration (e.g. make preference data only)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field, e.g. --set reward.kind=lm_only (repeatable)")
    summary = sub.add_parser("summary", help="print the per-iteration table of a run directory")
    summary.add_argument("run_dir", type=Path)
    evidence = sub.add_parser("evidence", help="Markdown table over several runs: mean ± std per method and iteration")
    evidence.add_argument("--group", action="append", required=True, metavar="LABEL=RUN[,RUN...]",
                          help="a method and its run directories (one per seed), e.g. CSR=runs/a,runs/b")
    evidence.add_argument("--columns", metavar="NAME[,NAME...]",
                          help="only these columns, in this order, e.g. 'CHAIR_S,recall,len,POPE F1 mean'")
    pre = sub.add_parser("pretrain-micro", help="train the micro-CLIP and micro-LLaVA from scratch on the micro-world")
    pre.add_argument("--config", type=Path, help="YAML file (default: the built-in settings = "
                                                 "configs/pretrain_micro.yaml)")
    pre.add_argument("--out", type=Path, default=Path("runs/pretrain-micro"),
                     help="output folder; csr_eval/micro/weights refreshes the shipped models")
    pre.add_argument("--seed", type=int, help="overrides the config's seed")
    pre.add_argument("--max-steps", type=_positive, help="cap every training stage at this many steps (smoke run)")
    pre.add_argument("--reuse-clip", type=Path, metavar="DIR",
                     help="skip CLIP training and use this micro-CLIP folder (same seed and settings)")
    pre.add_argument("--family", default="llava", choices=("llava", "qwen2_5_vl"),
                     help="llava: micro-CLIP + micro-LLaVA (default); qwen2_5_vl: the micro-Qwen (OUT/micro-qwen), "
                          "same tokenizer, world and curriculum")
    pre.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field, e.g. --set llava.batch_size=16 (repeatable)")
    return parser


SUBCOMMANDS = ("run", "pretrain-micro", "summary", "evidence")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*SUBCOMMANDS, "-h", "--help"):
        argv = ["run", *argv]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from csr_train.train import run_training
            return run_training(args)
        if args.command == "evidence":
            groups = {}
            for spec in args.group:
                label, sep, runs = spec.partition("=")
                if not sep or not runs:
                    raise CsrEvalError(f"--group {spec!r}: expected LABEL=RUN[,RUN...]")
                groups[label] = [Path(r) for r in runs.split(",")]
            columns = tuple(c.strip() for c in args.columns.split(",")) if args.columns else COLUMNS
            try:
                print(evidence_table(groups, columns))
            except (FileNotFoundError, ValueError) as exc:
                raise CsrEvalError(str(exc)) from None
            return 0
        if args.command == "summary":
            state_file = args.run_dir / STATE_FILE
            if not state_file.is_file():
                raise CsrEvalError(f"{args.run_dir}: not a csr-train run directory ({STATE_FILE} missing)")
            print(format_summary(json.loads(state_file.read_text(encoding="utf-8"))))
            return 0
        if args.command == "pretrain-micro":
            from csr_train.pretrain_micro.run import pretrain_micro, pretrain_micro_family

            overrides = list(args.overrides) + ([f"seed={args.seed}"] if args.seed is not None else [])
            config = load_config(PretrainConfig, args.config, overrides)
            if args.family == "llava":
                out = pretrain_micro(config, args.out, max_steps=args.max_steps, reuse_clip=args.reuse_clip)
            else:
                out = pretrain_micro_family(config, args.family, args.out, max_steps=args.max_steps)
            print(f"micro models written to {out}")
            return 0
    except CsrEvalError as exc:
        print(f"csr-train: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
