"""What every benchmark script shares: repeated timing, the result-file format, and the micro fixtures.

Result files (``speed/results/<name>.json``) hold at least ``{"benchmark", "baseline": {"median", "min",
"max"}, "ours": {...}, "ratio", "goal", "higher_is_better"}``; times are seconds, ``ratio`` is
baseline ÷ ours (how many times faster we are) unless the file says otherwise.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))


def machine() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, {device}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, Python {platform.python_version()}")


def timed(action: Callable[[], object], repeats: int) -> tuple[dict, object]:
    """Run ``action`` ``repeats`` times; (median/min/max seconds, the last result)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": times}, result


def write_result(name: str, baseline: dict | None, ours: dict, goal: float, higher_is_better: bool,
                 command: str, goal_met: bool | None = None, unit: str = "s", **extra) -> dict:
    """Write and print one result; without a baseline, ``goal`` is in seconds and ``goal_met`` is given."""
    ratio = baseline["median"] / ours["median"] if baseline else None
    result = {"benchmark": name, "baseline": baseline, "ours": ours, "ratio": ratio, "goal": goal,
              "higher_is_better": higher_is_better, "goal_met": (ratio >= goal if baseline else goal_met),
              "machine": machine(), "command": command, **({"unit": unit} if unit != "s" else {}), **extra}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if baseline:
        print(f"{name}: baseline {baseline['median']:.4g} {unit} [{baseline['min']:.4g}, {baseline['max']:.4g}], "
              f"ours {ours['median']:.4g} {unit} [{ours['min']:.4g}, {ours['max']:.4g}], ratio {ratio:.1f}x "
              f"(goal {goal}x: {'met' if ratio >= goal else 'NOT met'})")
    return result


def micro_world(out: Path, n_csr: int) -> Path:
    """A micro-world with ``n_csr`` prompt images (built once, reused)."""
    from csr_eval.micro.export import build

    if (out / "micro_world.json").is_file() and len(list((out / "images" / "csr").glob("*.png"))) >= n_csr:
        return out
    return build(out, seed=0, n_train=0, n_csr=n_csr, n_val=0)
