"""``csr-eval micro build``: write the micro-world."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_micro_parser(subparsers) -> None:
    micro = subparsers.add_parser("micro", help="the offline micro-world")
    sub = micro.add_subparsers(dest="micro_command", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="write the micro-world (COCO, LLaVA-Instruct, POPE and MME formats)")
    build.add_argument("--out", required=True, type=Path)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--n-train", type=int, default=2000)
    build.add_argument("--n-csr", type=int, default=200)
    build.add_argument("--n-val", type=int, default=200)
    build.add_argument("--pope-images", type=int, default=100, help="at most this many val images for POPE")
    build.add_argument("--mme-images", type=int, default=60, help="at most this many val images for MME")


def run_micro(args: argparse.Namespace) -> str:
    from csr_eval.micro.export import build

    for name in ("n_train", "n_csr", "n_val", "pope_images", "mme_images"):
        if getattr(args, name) < 0:
            raise SystemExit(f"csr-eval: error: --{name.replace('_', '-')} must be >= 0")
    out = build(args.out, seed=args.seed, n_train=args.n_train, n_csr=args.n_csr, n_val=args.n_val,
                pope_images=args.pope_images, mme_images=args.mme_images)
    return f"micro-world written to {out}"
