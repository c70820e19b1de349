"""Evaluation: batched generation against batch 1 on micro POPE, MME and CHAIR, answers asserted equal.

    python speed/eval_speed.py [--limit 64] [--batch-size 16] [--repeats 3]

The shipped micro-LLaVA answers the same requests (the first ``--limit`` of each benchmark, greedy, the
benchmarks' own token limits) through ``csr_eval``'s ``ModelRunner`` three ways: batch size 1 (the baseline),
the batch size ``csr-eval`` uses by default with ``generate`` (``share_images`` off: every question re-encodes
its image), and the same batch size with each image prefilled once per batch (ours, the default); every
answer must be identical.
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
    from csr_eval.shared_image_decoding import image_key

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_data_config(None)
    work = []
    for name in ("micro_pope", "micro_mme", "micro_chair"):
        task = prepare_task(name, data, args.limit)
        requests = task.requests[:args.limit]
        work.append((name, [load_rgb_image(r.image) for r in requests], [r.prompt for r in requests],
                     GenerationSettings(max_new_tokens=task.max_new_tokens)))
    model = shipped_model("micro-llava")
    one = ModelRunner.load(model, dtype="float32", batch_size=1, share_images=False)
    runners = {"batch 1": one,
               "batched generate": ModelRunner(one.model, one.processor, args.batch_size, share_images=False),
               "batched, images shared": ModelRunner(one.model, one.processor, args.batch_size)}

    results = {}
    for name, images, prompts, settings in work:
        runs = {way: timed(lambda runner=runner: runner.generate(images, prompts, settings), args.repeats)
                for way, runner in runners.items()}
        (baseline, slow), (batched, plain), (ours, fast) = runs.values()
        same = slow == plain == fast
        print(f"{name}: {len(prompts)} requests on {len({image_key(i) for i in images})} images; identical answers: "
              f"{same}; batched generate {baseline['median'] / batched['median']:.1f}x batch 1")
        results[name] = write_result(f"eval_{name}", baseline, ours, GOAL, True,
                                     f"python speed/eval_speed.py --limit {args.limit} --batch-size "
                                     f"{args.batch_size}", requests=len(prompts), batch_size=args.batch_size,
                                     images=len({image_key(i) for i in images}),
                                     identical_answers=same, batched_generate=batched,
                                     batched_generate_ratio=baseline["median"] / batched["median"])
    return 0 if all(r["identical_answers"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
