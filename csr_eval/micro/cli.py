"""``csr-eval micro build``: write the micro-world."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from csr_eval.micro.behaviour import format_report, measure
from csr_eval.micro.export import build
from csr_eval.micro.shipped import resolve_model


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_micro_parser(subparsers) -> None:
    micro = subparsers.add_parser("micro", help="the offline micro-world")
    sub = micro.add_subparsers(dest="micro_command", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="write the micro-world (COCO, LLaVA-Instruct, POPE and MME formats)")
    build.add_argument("--out", required=True, type=Path)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--n-train", type=_count, default=2000)
    build.add_argument("--n-csr", type=_count, default=200)
    build.add_argument("--n-val", type=_count, default=200)
    build.add_argument("--pope-images", type=_count, default=100, help="at most this many val images for POPE")
    build.add_argument("--mme-images", type=_count, default=60, help="at most this many val images for MME")
    check = sub.add_parser("check", help="measure the micro models against their behaviour targets")
    check.add_argument("--llava", default="micro-llava", help="model folder (default: the shipped micro-LLaVA)")
    check.add_argument("--clip", default="micro-clip", help="open_clip local-dir folder (default: the shipped micro-CLIP)")
    check.add_argument("--world", type=Path, help="a built micro-world (default: build the val split into OUT/world)")
    check.add_argument("--out", type=Path, required=True, help="folder for answers, captions and behaviour.json")
    check.add_argument("--seed", type=int, default=0, help="world seed when the world is built")
    check.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run_micro(args: argparse.Namespace) -> str:
    if args.micro_command == "check":
        world = args.world or build(args.out / "world", seed=args.seed, n_train=0, n_csr=0, n_val=200)
        report = measure(resolve_model(args.llava), resolve_model(args.clip), world, args.out)
        return json.dumps(report) if args.json else format_report(report)
    out = build(args.out, seed=args.seed, n_train=args.n_train, n_csr=args.n_csr, n_val=args.n_val,
                pope_images=args.pope_images, mme_images=args.mme_images)
    return f"micro-world written to {out}"
