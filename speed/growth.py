"""How candidate generation grows: time against the number of prompts, and time and memory against the beam
width (num_beams = token_beams = beam_groups).

    python speed/growth.py [--prompts 25,50,100] [--beams 2,3,5] [--repeats 3]

Each configuration runs in its own process (so its peak memory is its own), on the micro model with
configs/micro.yaml's other settings. The cost must grow linearly in prompts: the script fits time = a·n and
reports the largest deviation of seconds per prompt from the mean. (The issue names 100/200/400 prompts; on
2 CPU cores three repeats of those take about an hour, so the default is a quarter of that and
``--prompts 100,200,400`` reproduces the issue's sizes.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from common import HERE, RESULTS, micro_world, write_result


def one(prompts: int, beams: int) -> dict:
    """Run in a child process: seconds and peak memory of searching ``prompts`` prompts."""
    from search_speed import load

    from csr_train.search import SentenceBeamSearch, SentenceRewarder

    config, runner, clip, items = load(prompts)
    s = config.search
    s.num_beams = s.token_beams = s.beam_groups = beams
    search = SentenceBeamSearch(runner.model, runner.processor, s, SentenceRewarder(clip, 0.9), runner.prompt_text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    nodes = 0
    for begin in range(0, len(items), s.prompts_per_batch):
        nodes += sum(len(t.nodes) for t in search.search(items[begin:begin + s.prompts_per_batch]))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"prompts": prompts, "beams": beams, "seconds": seconds, "nodes": nodes,
            "peak_rss_gb": peak / 1024 ** 2, "rss_growth_gb": (peak - before) / 1024 ** 2}


def measure(prompts: int, beams: int, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--one", f"{prompts},{beams}"], capture_output=True, text=True,
                             check=True, cwd=HERE.parent)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = sorted(r["seconds"] for r in runs)
    row = {**runs[0], "seconds": seconds[len(seconds) // 2], "min": seconds[0], "max": seconds[-1],
           "peak_rss_gb": max(r["peak_rss_gb"] for r in runs)}
    print(f"prompts {prompts:4d}  beams {beams}  {row['seconds']:7.1f} s [{row['min']:.1f}, {row['max']:.1f}]  "
          f"{row['seconds'] / prompts:.3f} s/prompt  {row['nodes']} sentences  peak {row['peak_rss_gb']:.2f} GB",
          flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", default="25,50,100")
    parser.add_argument("--beams", default="2,3,5")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        prompts, beams = map(int, args.one.split(","))
        print(json.dumps(one(prompts, beams)))
        return 0
    sizes = [int(x) for x in args.prompts.split(",")]
    widths = [int(x) for x in args.beams.split(",")]
    micro_world(RESULTS / "micro-world-bench", max(sizes))  # built once, before anything is timed
    by_prompts = [measure(n, 5, args.repeats) for n in sizes]
    per_prompt = [r["seconds"] / r["prompts"] for r in by_prompts]
    mean = sum(per_prompt) / len(per_prompt)
    deviation = max(abs(p - mean) / mean for p in per_prompt)
    by_beams = [measure(sizes[0], b, args.repeats) for b in widths]
    largest = by_prompts[-1]
    write_result("growth", None, {"median": largest["seconds"], "min": largest["min"], "max": largest["max"]},
                 0.25, False, f"python speed/growth.py --prompts {args.prompts} --beams {args.beams}",
                 goal_met=deviation <= 0.25, by_prompts=by_prompts, by_beams=by_beams,
                 seconds_per_prompt=per_prompt, max_relative_deviation_per_prompt=deviation,
                 note="goal: seconds per prompt within 25% of their mean across sizes (linear growth)")
    print(f"seconds per prompt {', '.join(f'{p:.3f}' for p in per_prompt)}: largest deviation {deviation:.0%} "
          f"({'linear' if deviation <= 0.25 else 'NOT linear'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
