"""The ``csr-eval`` command.

``csr-eval --model iter3 --suite all`` evaluates (the default action); subcommands: ``score`` (answer files
already produced elsewhere), ``check`` (the regression gate), ``models``, ``export``, ``micro``.
"""

from __future__ import annotations

import argparse
import json
import sys
from argparse import Namespace
from pathlib import Path

from csr_eval import __version__, benchmarks
from csr_eval.errors import CsrEvalError
from csr_eval.gate import compare, format_comparisons, parse_tolerances, read_reference_file
from csr_eval.judge import JudgeSettings
from csr_eval.micro.cli import add_micro_parser, run_micro
from csr_eval.registry import ModelRegistry
from csr_eval.report import format_table, progress_bars
from csr_eval.runner import CONVERSATION_FORMATS, DTYPES
from csr_eval.score_cli import add_score_parser, run_score
from csr_eval.suites import expand

SUBCOMMANDS = ("run", "score", "micro", "check", "models", "export")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, help="CSR run directory for base/iterN (default: the newest under runs/)")
    p.add_argument("--registry", type=Path, default=Path("configs/models.yaml"), help="model registry file")
    p.add_argument("--db", default="results/csr.db", help="results database: a SQLite path or a SQLAlchemy URL")


def _add_eval_options(p: argparse.ArgumentParser) -> None:
    _add_model_options(p)
    p.add_argument("--model", required=True, help="base, iterN, a registry name, a folder or a hub id")
    p.add_argument("--suite", default="all", help="all, hallucination, comprehensive, vqa, micro, or a "
                                                  "comma-separated list of suites and benchmarks")
    p.add_argument("--data-config", type=Path, help="data locations (default: configs/data.yaml if present)")
    p.add_argument("--set", dest="data_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a data-config field, e.g. --set chair.max_new_tokens=64")
    p.add_argument("--limit", type=_positive, help="at most N items per benchmark split (quick runs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--dtype", choices=DTYPES,
                   help="default: what the run or the registry entry says, else auto (the checkpoint's)")
    p.add_argument("--batch-size", type=_positive, default=16)
    p.add_argument("--conversation", choices=CONVERSATION_FORMATS,
                   help="the model's chat template (llava-hf) or LLaVA-1.5's vicuna_v1 prompt with system text "
                        "(default: what the run or the registry entry says, else chat_template)")
    p.add_argument("--pad-to-square", action=argparse.BooleanOptionalAction,
                   help="LLaVA-1.5's own image preprocessing: pad to a square with the mean colour (llava-hf crops; "
                        "default: what the run or the registry entry says, else no)")
    p.add_argument("--max-new-tokens", type=_positive, help="override every benchmark's own limit")
    p.add_argument("--no-share-images", dest="share_images", action="store_false",
                   help="answer every question with generate (default: questions about one image share its prefill)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--judge-url", help="judged benchmarks (llava_wild): base URL of an OpenAI-compatible API; "
                                       "the key, if needed, in the environment variable CSR_JUDGE_API_KEY")
    p.add_argument("--judge-model", help="the judge model's name at that endpoint (LLaVA used gpt-4-0314)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csr-eval",
        description="Evaluate vision-language models on hallucination and general benchmarks with scorers "
                    "that reproduce the published reference implementations. Without a subcommand: "
                    "csr-eval --model NAME --suite SUITE (the 'run' action).")
    parser.add_argument("--version", action="version", version=f"csr-eval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_eval_options(sub.add_parser("run", help="evaluate a model on a suite (the default action)"))
    add_score_parser(sub)
    add_micro_parser(sub)
    check = sub.add_parser("check", help="regression gate: exit 1 when POPE or CHAIR regress beyond tolerance")
    _add_eval_options(check)
    check.add_argument("--against", required=True,
                       help="the reference: a model named as --model names one (base, iterN, a registry name, "
                            "a folder, a hub id; evaluated with the same settings, reusing stored answers), "
                            "or a csr-eval --json results file")
    check.add_argument("--tolerance", action="append", default=[], metavar="METRIC=POINTS",
                       help="chair_s (default 1.0), chair_i (0.5), pope_f1 (0.5 per split)")
    models = sub.add_parser("models", help="list the model names that resolve")
    _add_model_options(models)
    export = sub.add_parser("export", help="write stored results as JSON or CSV")
    export.add_argument("--db", default="results/csr.db")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--model", help="only this model")
    export.add_argument("--samples", action="store_true", help="per-sample records instead of metrics")
    return parser


def _evaluate(args) -> dict:
    from csr_eval.data_config import load_data_config  # imports pandas
    from csr_eval.evaluate import RunSettings, evaluate
    from csr_eval.store import ResultsStore  # imports sqlalchemy (0.2 s): not for --help or score

    benchmarks = expand(args.suite)
    data_path = args.data_config or (Path("configs/data.yaml") if Path("configs/data.yaml").is_file() else None)
    data = load_data_config(data_path, args.data_overrides)
    model = ModelRegistry(args.run, args.registry).resolve(args.model)
    if bool(args.judge_url) != bool(args.judge_model):
        raise CsrEvalError("give both --judge-url and --judge-model, or neither")
    judge = JudgeSettings(args.judge_url, args.judge_model) if args.judge_url else None
    pad = model.pad_to_square if args.pad_to_square is None else args.pad_to_square  # the flag, else the model's
    settings = RunSettings(device=args.device, dtype=args.dtype or model.dtype or "auto", batch_size=args.batch_size,
                           conversation=args.conversation or model.conversation or "chat_template", seed=args.seed,
                           limit=args.limit, max_new_tokens=args.max_new_tokens, judge=judge,
                           share_images=args.share_images, pad_to_square=bool(pad))
    return evaluate(model, benchmarks, ResultsStore(args.db), data, settings, progress=progress_bars())


def _report_table(report: dict) -> str:
    rows = [[name, b["status"], benchmarks.get(name).headline(b["metrics"]) if b["status"] == "ok" else b["reason"] or ""]
            for name, b in report["benchmarks"].items()]
    lines = [f"model: {report['model']}", format_table(["benchmark", "status", "result"], rows, left=3)]
    for key, label in (("aggregate", "aggregate score (paper columns, POPE as accuracy)"),
                       ("micro_aggregate", "micro-world aggregate (MME_P, POPE, CHAIR_S, CHAIR_I)")):
        agg = report[key]
        if agg["score"] is not None:
            lines.append(f"{label}: {agg['score']:.2f} over {', '.join(agg['columns'])}")
    return "\n".join(lines)


def _reference_metrics(args) -> dict[str, dict]:
    """The gate's reference: a ``csr-eval --json`` results file, or a model named as ``--model`` names one
    (run iterations, registry names, paths, hub ids), evaluated with the same suite and settings. The
    evaluator reuses what the store already holds for those settings, so a model evaluated before (for
    instance ``base`` by the training loop) is re-scored, not re-answered."""
    from csr_eval.store import ResultsStore

    against = Path(args.against)
    if against.suffix == ".json" or against.is_file():
        return read_reference_file(against)
    try:
        ModelRegistry(args.run, args.registry).resolve(args.against)
    except CsrEvalError as unresolved:  # a name that only the store knows (e.g. an old model row)
        stored = ResultsStore(args.db).latest_metrics(args.against)
        if stored:
            return stored
        raise CsrEvalError(f"--against {args.against}: {unresolved}") from None
    report = _evaluate(Namespace(**{**vars(args), "model": args.against}))
    failed = {n: b["reason"] for n, b in report["benchmarks"].items() if b["status"] == "failed"}
    if failed:
        raise CsrEvalError(f"--against {args.against}: the reference failed on " +
                           ", ".join(f"{n} ({reason})" for n, reason in failed.items()))
    return {n: b["metrics"] for n, b in report["benchmarks"].items() if b["status"] == "ok"}


def _check(args) -> tuple[int, str]:
    tolerances = parse_tolerances(args.tolerance)
    reference = _reference_metrics(args)
    report = _evaluate(args)
    failed = [n for n, b in report["benchmarks"].items() if b["status"] == "failed"]
    current = {n: b["metrics"] for n, b in report["benchmarks"].items() if b["status"] == "ok"}
    comparisons = compare(current, reference, tolerances)
    text = format_comparisons(comparisons, args.model, str(args.against))
    if failed:
        text += "\nfailed benchmarks: " + ", ".join(f"{n} ({report['benchmarks'][n]['reason']})" for n in failed)
    if not comparisons:
        return 2, text + "\nnothing to compare: no gated metric (POPE, CHAIR) on both sides"
    return (1 if failed or any(c.regressed for c in comparisons) else 0), text


def _export(args) -> str:
    import pandas as pd

    from csr_eval.store import ResultsStore

    store = ResultsStore(args.db)
    evaluations = store.evaluations(model=args.model)
    if args.samples:
        rows = [{"model": e.model, "benchmark": e.benchmark, "evaluation_id": e.id, **s}
                for e in evaluations for s in store.samples(e.id)]
    else:
        rows = [{"model": e.model, "benchmark": e.benchmark, "evaluation_id": e.id, "metrics": e.metrics,
                 "config": e.config, "finished_at": e.finished_at.isoformat() if e.finished_at else None}
                for e in evaluations]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "json":
        args.out.write_text(json.dumps(rows, indent=1, default=str) + "\n", encoding="utf-8")
    else:
        frame = pd.json_normalize(rows) if rows else pd.DataFrame()
        frame.to_csv(args.out, index=False)
    return f"{len(rows)} rows written to {args.out}"


def _models(args) -> str:
    registry = ModelRegistry(args.run, args.registry)
    rows = [[name, m.source, m.path + (f" + adapter {m.adapter}" if m.adapter else "")]
            for name, m in registry.known().items()]
    head = f"run: {registry.run}" if registry.run else "run: none found under runs/"
    return head + "\n" + format_table(["name", "from", "loads"], rows, left=3)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run", *argv]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            report = _evaluate(args)
            print(json.dumps(report) if args.json else _report_table(report))
            return 1 if any(b["status"] == "failed" for b in report["benchmarks"].values()) else 0
        if args.command == "check":
            code, text = _check(args)
            print(text)
            return code
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
        if args.command == "models":
            print(_models(args))
            return 0
        if args.command == "export":
            print(_export(args))
            return 0
    except CsrEvalError as exc:
        print(f"csr-eval: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
