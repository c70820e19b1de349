"""The ``csr-eval`` command."""

from __future__ import annotations

import argparse
import json
import sys

from csr_eval import __version__
from csr_eval.errors import CsrEvalError
from csr_eval.micro.cli import add_micro_parser, run_micro
from csr_eval.score_cli import add_score_parser, run_score


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csr-eval",
        description="Evaluate vision-language models on hallucination and general benchmarks with scorers "
                    "that reproduce the published reference implementations.")
    parser.add_argument("--version", action="version", version=f"csr-eval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_score_parser(sub)
    add_micro_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "score":
            data, table = run_score(args)
            if args.json:
                sys.stdout.write(json.dumps(data) + "\n")
            else:
                print(table)
            return 0
        if args.command == "micro":
            print(run_micro(args))
            return 0
    except CsrEvalError as exc:
        print(f"csr-eval: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
