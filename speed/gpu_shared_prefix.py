"""Issue 17 item 4: the search and evaluation at 7B shapes on a GPU, before (copied KV, generate) and after
(shared prefixes), in one run.

    python speed/gpu_shared_prefix.py --device cuda --dtype bfloat16                        # a GPU, < 10 min
    python speed/gpu_shared_prefix.py --text-layers 1 --vision-layers 2 --prompts 1 --questions 8  # CPU smoke

Builds LLaVA-1.5-7B's (or ``--shape qwen2.5-vl-7b``'s) architecture with random weights directly on the
device (``gpu_shapes.build``; no download) and measures, each with its peak device memory:

1. one search batch of ``--prompts`` prompts (``configs/micro.yaml``'s search, 2 sentences of up to 74 tokens,
   micro-CLIP for R_I) with ``search.kv_layout: copied`` and ``shared`` — the same candidates are checked —
   and the shared layout again with ``--shared-prompts`` prompts (what the memory freed allows): prompts per
   second, candidate tokens per second, and the memory-bandwidth bound of decoding (every step reads all weights
   once; ``search_speed.bandwidth_bound``);
2. ``--questions`` micro POPE questions (several per image) answered by ``ModelRunner.generate`` at batch 16
   with ``share_images`` off (batched ``generate``) and on; the answers must be equal.

Writes speed/results/gpu_shared_prefix_<shape>_<device>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from common import RESULTS, machine, micro_world
from gpu_shapes import Meter, build
from kv_memory import close, signature
from search_speed import bandwidth_bound


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=["llava-1.5-7b", "qwen2.5-vl-7b"], default="llava-1.5-7b")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--prompts", type=int, default=4, help="search batch for the before/after comparison")
    parser.add_argument("--shared-prompts", type=int, default=16, help="a larger batch, shared layout only")
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--text-layers", type=int, help="fewer language-model layers (a CPU smoke run)")
    parser.add_argument("--vision-layers", type=int, help="fewer vision layers (a CPU smoke run)")
    args = parser.parse_args()

    import torch

    from csr_eval.data_config import load_data_config
    from csr_eval.evaluate import prepare_task
    from csr_eval.io import load_rgb_image
    from csr_eval.micro.shipped import shipped_model
    from csr_eval.runner import GenerationSettings, ModelRunner
    from csr_train.config import load_csr_config
    from csr_train.prompts import load_prompts
    from csr_train.reward import ClipRelevance
    from csr_train.search import PromptItem, SentenceBeamSearch, SentenceRewarder

    torch.manual_seed(0)
    meter = Meter(args.device)
    runner = meter("build", lambda: build(args.shape, args.device, args.dtype, args.text_layers, args.vision_layers))
    config = load_csr_config("configs/micro.yaml")
    world = micro_world(RESULTS / "micro-world-bench", max(args.prompts, args.shared_prompts))
    prompts = load_prompts(world / "llava_instruct_150k.json")
    items = [PromptItem(p.prompt_id, p.image, p.text, load_rgb_image(world / "images" / "csr" / p.image))
             for p in prompts[:max(args.prompts, args.shared_prompts)]]
    clip = ClipRelevance(f"open_clip:local-dir:{shipped_model('micro-clip')}", device=args.device)
    search_result, trees = {}, {}
    for name, layout, count in (("copied", "copied", args.prompts), ("shared", "shared", args.prompts),
                                ("shared_large_batch", "shared", args.shared_prompts)):
        settings = replace(config.search, max_sentences=2, kv_layout=layout, prompts_per_batch=count)
        search = SentenceBeamSearch(runner.model, runner.processor, settings, SentenceRewarder(clip, 0.9),
                                    runner.prompt_text).track_kv_bytes()
        trees[name] = meter(f"search_{name}", lambda: search.search(items[:count]))
        tokens = sum(len(n.token_ids) for t in trees[name] for n in t.nodes)
        seconds = meter.stages[f"search_{name}"]["seconds"]
        search_result[name] = {**meter.stages[f"search_{name}"], "prompts": count, "prompts_per_second":
                               count / seconds, "kv_gib_per_prompt": search.kv_peak_bytes / count / 2 ** 30,
                               **bandwidth_bound(runner.model, tokens, seconds, args.device)}
    same = signature(trees["copied"]) == signature(trees["shared"])
    same_scores = same and close(trees["copied"], trees["shared"], tolerance=1e-2 if args.dtype != "float32" else 1e-4)

    task = prepare_task("micro_pope", load_data_config(None), args.questions)
    requests = task.requests[:args.questions]
    images, questions = [load_rgb_image(r.image) for r in requests], [r.prompt for r in requests]
    generation = GenerationSettings(max_new_tokens=task.max_new_tokens)
    answers, evaluation = {}, {}
    for name, share in (("batched_generate", False), ("shared_images", True)):
        answering = ModelRunner(runner.model, runner.processor, batch_size=16, share_images=share)
        answers[name] = meter(f"eval_{name}", lambda: answering.generate(images, questions, generation))
        evaluation[name] = {**meter.stages[f"eval_{name}"],
                            "questions_per_second": len(requests) / meter.stages[f"eval_{name}"]["seconds"]}
    result = {"benchmark": f"gpu_shared_prefix_{args.shape}_{args.device}", "shape": args.shape, "dtype": args.dtype,
              "search": search_result, "identical_candidates": same, "identical_scores": same_scores,
              "evaluation": evaluation, "identical_answers": answers["batched_generate"] == answers["shared_images"],
              "questions": len(requests), "machine": machine(), "command": "python " + " ".join(sys.argv)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    smoke = "_smoke" if args.text_layers else ""
    path = RESULTS / f"gpu_shared_prefix_{args.shape}_{args.device.split(':')[0]}{smoke}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine",)}, indent=1))
    return 0 if same and result["identical_answers"] else 1


if __name__ == "__main__":
    sys.exit(main())
