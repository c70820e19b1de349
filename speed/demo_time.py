"""The micro demo (``make demo`` without the install step): wall time and peak memory.

    python speed/demo_time.py [--repeats 1]

Runs the demo target's commands, read from the Makefile, in a fresh scratch folder (links to configs/ and
examples/, nothing else: the micro-world, the run and the results are made from scratch), timing each and
taking the peak resident memory of the largest process (``ru_maxrss`` of the children). Goal: ≤ 10 minutes
and ≤ 8 GB on 2 cores. Writes ``speed/results/demo.json`` (``"ours"`` alone: there is no baseline).
"""

from __future__ import annotations

import argparse
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, timed, write_result

REPO = HERE.parent
GOAL_SECONDS, GOAL_GB = 600.0, 8.0


def demo_commands() -> list[list[str]]:
    """The ``demo:`` recipe of the Makefile, with ``$(VENV)/bin/`` resolved to this interpreter's folder."""
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    start = lines.index(next(line for line in lines if line.startswith("demo:")))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(shlex.split(line.strip().replace("$(VENV)/bin/", f"{Path(sys.executable).parent}/")))
    return recipe


def run_demo() -> list[dict]:
    steps = []
    with tempfile.TemporaryDirectory(prefix="csr-demo-") as scratch:
        for name in ("configs", "examples"):
            (Path(scratch) / name).symlink_to(REPO / name)
        for command in demo_commands():
            start = time.perf_counter()
            subprocess.run(command, cwd=scratch, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            steps.append({"command": " ".join(Path(command[0]).name if i == 0 else c for i, c in enumerate(command)),
                          "seconds": time.perf_counter() - start})
            print(f"{steps[-1]['seconds']:7.1f} s  {steps[-1]['command']}", flush=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    ours, steps = timed(run_demo, args.repeats)
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2  # KiB on Linux
    met = ours["median"] <= GOAL_SECONDS and peak_gb <= GOAL_GB
    write_result("demo", None, ours, GOAL_SECONDS, False, "python speed/demo_time.py", goal_met=met,
                 peak_memory_gb=peak_gb, goal_memory_gb=GOAL_GB, steps=steps)
    print(f"demo: {ours['median'] / 60:.1f} min (goal {GOAL_SECONDS / 60:.0f}), peak {peak_gb:.2f} GB "
          f"(goal {GOAL_GB}): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
