"""``csr-eval score <benchmark>``: score answer files produced by any tool (LLaVA's scripts included).

Each benchmark brings its command (``Benchmark.score_command``: the file contract, the arguments, the
scorer); its ``--help`` states the contract. ``--json`` prints exactly one JSON object on stdout;
everything else (progress, library chatter) goes to stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from csr_eval import benchmarks
from csr_eval.benchmark import ScoreCommand
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


# -- benchmarks whose answers come as a jsonl of question_id + text ---------------------------------------
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


def answer_file_command(help: str, gold_option: str, title: str, gold_id, build, score_fn,
                        container_key: str | None = None, options=()) -> ScoreCommand:
    """``csr-eval score`` for answers given as a jsonl of question_id + text, matched by id to a gold json file.

    ``build(gold, text)`` makes the record ``score_fn(records, args)`` reads; ``options`` are extra
    ``(flag, add_argument keywords)`` pairs.
    """
    def arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument(gold_option, required=True, type=Path)
        p.add_argument("--result-file", required=True, type=Path)
        p.add_argument("--allow-missing", action="store_true", help="score the answered subset")
        for flag, keywords in options:
            p.add_argument(flag, **keywords)

    def run(args: argparse.Namespace) -> tuple[dict, str]:
        gold_path = getattr(args, gold_option.lstrip("-").replace("-", "_"))
        by_id = {str(gold_id(g)): g for g in gold_list(gold_path, container_key)}
        answers = {str(k): v for k, v in read_answers(args.result_file).items()}
        present, coverage = match_answers(answers, list(by_id), args.result_file, gold_path, args.allow_missing)
        data = score_fn([build(by_id[q], answers[q]) for q in present], args)
        data["coverage"] = coverage
        cols = [k for k, v in data.items() if isinstance(v, (int, float))]
        return data, format_table(cols, [[data[c] for c in cols]], title=title)

    return ScoreCommand(help, arguments, run)
