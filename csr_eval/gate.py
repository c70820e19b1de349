"""The regression gate: fail when POPE or CHAIR got worse than a reference beyond a tolerance.

Tolerances are in points (percent): CHAIR_S may rise by at most 1.0, CHAIR_I by 0.5, and each POPE split's
F1 may fall by at most 0.5. Metrics are read in the ``csr-eval --json`` shapes (fractions), so a tolerance
of 1.0 point is 0.01 there. The micro-world's versions (``micro_pope``, ``micro_chair``) are gated by the
same rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from csr_eval.benchmarks import pope
from csr_eval.errors import InputError

DEFAULT_TOLERANCES = {"chair_s": 1.0, "chair_i": 0.5, "pope_f1": 0.5}
POPE_SPLITS = pope.SPLITS


@dataclass
class Comparison:
    benchmark: str
    metric: str
    reference: float
    value: float
    tolerance: float  # points
    worse_direction: int  # +1: higher is worse (CHAIR), -1: lower is worse (F1)

    @property
    def change_points(self) -> float:
        return 100 * (self.value - self.reference)

    @property
    def regressed(self) -> bool:
        return self.worse_direction * self.change_points > self.tolerance + 1e-9


def gated_metrics(benchmark: str, metrics: dict, tolerances: dict[str, float]) -> list[tuple[str, float, float, int]]:
    """(metric, value, tolerance, worse direction) for a benchmark's gated metrics."""
    kind = benchmark.removeprefix("micro_")
    if kind == "chair":
        return [("chair_s", metrics["chair_s"], tolerances["chair_s"], +1),
                ("chair_i", metrics["chair_i"], tolerances["chair_i"], +1)]
    if kind == "pope":
        return [(f"{split}.f1", metrics[split]["f1"], tolerances["pope_f1"], -1) for split in POPE_SPLITS
                if split in metrics]
    return []


def compare(current: dict[str, dict], reference: dict[str, dict],
            tolerances: dict[str, float] | None = None) -> list[Comparison]:
    """Comparisons for every gated metric that both sides have."""
    tolerances = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    out = []
    for benchmark, metrics in current.items():
        if benchmark not in reference or not metrics or not reference[benchmark]:
            continue
        ref = {m: (v, t, d) for m, v, t, d in gated_metrics(benchmark, reference[benchmark], tolerances)}
        for metric, value, tolerance, direction in gated_metrics(benchmark, metrics, tolerances):
            if metric in ref:
                out.append(Comparison(benchmark, metric, ref[metric][0], value, tolerance, direction))
    return out


def read_reference_file(path: Path) -> dict[str, dict]:
    """Benchmark metrics from a ``csr-eval --json`` output file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "reference results file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", exc.lineno) from None
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, dict):
        raise InputError(path, "expected the csr-eval --json shape: {\"benchmarks\": {name: {\"metrics\": ...}}}")
    return {name: b.get("metrics") or {} for name, b in benchmarks.items() if b.get("status") == "ok"}


def parse_tolerances(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in DEFAULT_TOLERANCES or not value:
            raise InputError(None, f"--tolerance {item!r}: expected one of {', '.join(DEFAULT_TOLERANCES)}=POINTS")
        try:
            out[key] = float(value)
        except ValueError:
            raise InputError(None, f"--tolerance {item!r}: {value!r} is not a number") from None
    return out


def format_comparisons(comparisons: list[Comparison], model: str, against: str) -> str:
    lines = [f"regression gate: {model} against {against}",
             f"{'benchmark':12s} {'metric':18s} {'reference':>10s} {'current':>10s} {'change':>8s} {'allowed':>8s}  verdict"]
    for c in comparisons:
        allowed = f"{'+' if c.worse_direction > 0 else '-'}{c.tolerance:.2f}"
        lines.append(f"{c.benchmark:12s} {c.metric:18s} {100 * c.reference:10.2f} {100 * c.value:10.2f} "
                     f"{c.change_points:+8.2f} {allowed:>8s}  {'REGRESSED' if c.regressed else 'ok'}")
    bad = sum(c.regressed for c in comparisons)
    lines.append(f"{bad} of {len(comparisons)} gated metrics regressed beyond tolerance (values in points)")
    return "\n".join(lines)
