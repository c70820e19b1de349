"""Evaluation: batched generation against batch 1 on micro POPE and micro CHAIR, answers asserted equal.

    python speed/eval_speed.py [--limit 64] [--batch-size 16] [--repeats 3]

The shipped micro-LLaVA answers the same requests (the first ``--limit`` of each benchmark, greedy, the
benchmarks' own token limits) through ``csr_eval``'s ``ModelRunner`` with batch size 1 and with the batch
size ``csr-eval`` uses by default; every answer must be identical.
"""

from __future__ import annotations

import argparse
import sys

from common import timed, write_result

GOAL = 3.0


def main() -> int:
    from csr_eval.data_config import load_data_config
    from csr_eval.io import load_rgb_image
    from csr_eval.micro.shipped import shipped_model
    from csr_eval.runner import GenerationSettings, ModelRunner
    from csr_eval.evaluate import prepare_task

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_data_config(None)
    work = []
    for name in ("micro_pope", "micro_chair"):
        task = prepare_task(name, data, args.limit)
        requests = task.requests[:args.limit]
        work.append((name, [load_rgb_image(r.image) for r in requests], [r.prompt for r in requests],
                     GenerationSettings(max_new_tokens=task.max_new_tokens)))
    model = shipped_model("micro-llava")
    runners = {size: ModelRunner.load(model, dtype="float32", batch_size=size) for size in (1, args.batch_size)}

    results = {}
    for name, images, prompts, settings in work:
        one = [(name, images, prompts, settings)]
        answer_with = lambda size, one=one: [runners[size].generate(i, p, s) for _, i, p, s in one]  # noqa: E731
        baseline, slow = timed(lambda: answer_with(1), args.repeats)
        ours, fast = timed(lambda: answer_with(args.batch_size), args.repeats)
        same = slow == fast
        print(f"{name}: {len(prompts)} requests; identical answers: {same}")
        results[name] = write_result(f"eval_{name}", baseline, ours, GOAL, True,
                                     f"python speed/eval_speed.py --limit {args.limit} --batch-size "
                                     f"{args.batch_size}", requests=len(prompts), batch_size=args.batch_size,
                                     identical_answers=same)
    return 0 if all(r["identical_answers"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
