"""The ``csr-train`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from csr_eval.config import load_config
from csr_eval.errors import CsrEvalError


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csr-train", description="Calibrated Self-Rewarding training.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pre = sub.add_parser("pretrain-micro", help="train the micro-CLIP and micro-LLaVA from scratch on the micro-world")
    pre.add_argument("--config", type=Path, help="YAML file (default: the built-in settings = "
                                                 "configs/pretrain_micro.yaml)")
    pre.add_argument("--out", type=Path, default=Path("runs/pretrain-micro"),
                     help="output folder; csr_eval/micro/weights refreshes the shipped models")
    pre.add_argument("--seed", type=int, help="overrides the config's seed")
    pre.add_argument("--max-steps", type=_positive, help="cap every training stage at this many steps (smoke run)")
    pre.add_argument("--reuse-clip", type=Path, metavar="DIR",
                     help="skip CLIP training and use this micro-CLIP folder (same seed and settings)")
    pre.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field, e.g. --set llava.batch_size=16 (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "pretrain-micro":
            from csr_train.pretrain_micro.config import PretrainConfig
            from csr_train.pretrain_micro.run import pretrain_micro

            overrides = list(args.overrides) + ([f"seed={args.seed}"] if args.seed is not None else [])
            config = load_config(PretrainConfig, args.config, overrides)
            out = pretrain_micro(config, args.out, max_steps=args.max_steps, reuse_clip=args.reuse_clip)
            print(f"micro models written to {out}")
            return 0
    except CsrEvalError as exc:
        print(f"csr-train: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
