"""``csr-eval score <benchmark>``: score answer files produced by any tool (LLaVA's scripts included).

Each benchmark brings its command (``Benchmark.score_command``: the file contract, the arguments, the
scorer); its ``--help`` states the contract. ``--json`` prints exactly one JSON object on stdout;
everything else (progress, library chatter) goes to stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from csr_eval import benchmarks
from csr_eval.errors import InputError
from csr_eval.io import match_answers, read_answers, read_json
from csr_eval.report import format_table


def add_score_parser(subparsers) -> None:
    score = subparsers.add_parser("score", help="score answer files of one benchmark",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench = score.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for spec in benchmarks.registry().values():
        if spec.score_command is None:
            continue
        p = bench.add_parser(spec.name, help=spec.score_command.help, description=spec.score_command.help)
        p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
        spec.score_command.arguments(p)


def run_score(args: argparse.Namespace) -> tuple[dict, str]:
    """Return (JSON-able result, readable table)."""
    return benchmarks.get(args.benchmark).score_command.run(args)


# -- helpers for benchmarks whose answers come as a jsonl of question_id + text --------------------------
def gold_list(path: Path, container_key: str | None = None) -> list[dict]:
    """The gold records of a json file: a list, ``{container_key: [...]}``, or an id -> record mapping."""
    raw = read_json(path)
    if container_key and isinstance(raw, dict) and container_key in raw:
        raw = raw[container_key]
    if isinstance(raw, dict):
        raw = [dict(v, question_id=k) for k, v in raw.items()]
    if not isinstance(raw, list) or not raw:
        raise InputError(path, "expected a non-empty JSON list (or an id -> object mapping)")
    return raw


def score_answer_file(args, gold_path: Path, gold: list[dict], gold_id, build, score_fn,
                      title: str) -> tuple[dict, str]:
    """Match ``args.result_file``'s answers to the gold records by id, score ``build(gold, text)`` records."""
    answers = read_answers(args.result_file)
    by_id = {str(gold_id(g)): g for g in gold}
    present, coverage = match_answers(answers, list(by_id), args.result_file, gold_path, args.allow_missing)
    text_of = {str(k): v for k, v in answers.items()}
    data = score_fn([build(by_id[q], text_of[q]) for q in present])
    data["coverage"] = coverage
    cols = [k for k, v in data.items() if isinstance(v, (int, float))]
    return data, format_table(cols, [[data[c] for c in cols]], title=title)
