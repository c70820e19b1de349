"""KV memory of the sentence-level search at LLaVA-1.5-7B shapes: the copied layout against the shared one.

    python speed/kv_memory.py [--text-layers 1] [--prompts 2] [--max-sentences 3]

Builds LLaVA-1.5-7B's architecture offline with random weights (``search_speed.llava_shaped``: CLIP
ViT-L/14-336, so the real 576-token image prefix; a 4096-wide Llama with ``--text-layers`` of its 32 layers)
and runs the same search twice in one process, ``search.kv_layout: copied`` (every token beam holds its whole
context, as before issue 17) and ``shared`` (csr_eval.cascade). Both must give the same candidates (tokens;
scores and log-probabilities to 1e-4). KV bytes are counted exactly: the distinct storages of every KV tensor
alive at the end of each sentence step (the step's batch with its reserved room, the frontier, the finished
hypotheses, the prompts' prefix), the peak over the search, per prompt. Bytes scale linearly with layers and
element size, so the report also gives them at 32 layers in bf16, and the most prompts per batch whose KV fits
beside the bf16 weights in 80 GB (activations not counted). Random weights rarely write ".", so sentences run
to ``max_sentence_tokens``: the longest contexts, the worst case for the copied layout's copies.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import write_result
from search_speed import load

from csr_train.search import SentenceBeamSearch, SentenceRewarder

GOAL = 5.0
LAYERS_7B = 32
GPU_BYTES = 80e9


def weights_bytes_7b(micro_processor) -> int:
    """LLaVA-1.5-7B's parameter bytes in bf16 (its real 32,064-token vocabulary), counted on the meta device."""
    from search_speed import llava_shaped

    model, _ = llava_shaped("meta", "bfloat16", micro_processor, text_layers=LAYERS_7B)
    text = model.config.text_config
    embedding_and_head = 2 * (32064 - text.vocab_size) * text.hidden_size
    return 2 * (sum(p.numel() for p in model.parameters()) + embedding_and_head)


def signature(trees):
    return [[(n.parent, tuple(n.token_ids)) for n in t.nodes] for t in trees]


def close(a, b, tolerance=1e-4) -> bool:
    return all(abs(x.lm_score - y.lm_score) <= tolerance and abs(x.r_t - y.r_t) <= tolerance
               and all(abs(p - q) <= tolerance for p, q in zip(x.logprobs, y.logprobs))
               for ta, tb in zip(a, b) for x, y in zip(ta.nodes, tb.nodes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--text-layers", type=int, default=1)
    parser.add_argument("--max-sentences", type=int, default=3)
    parser.add_argument("--max-sentence-tokens", type=int, help="override configs/micro.yaml's 74")
    args = parser.parse_args()
    config, runner, clip, items = load(args.prompts, "llava-1.5-7b", "cpu", "float32", args.text_layers)
    s = config.search
    s.max_sentences, s.prompts_per_batch = args.max_sentences, args.prompts
    if args.max_sentence_tokens:
        s.max_sentence_tokens = args.max_sentence_tokens
    results = {}
    for layout in ("copied", "shared"):
        s.kv_layout = layout
        search = SentenceBeamSearch(runner.model, runner.processor, s, SentenceRewarder(clip, config.reward.lam),
                                    runner.prompt_text, config.reward.aggregate).track_kv_bytes()
        start = time.perf_counter()
        trees = search.search(items)
        results[layout] = (search.kv_peak_bytes / len(items), time.perf_counter() - start, trees)
    same = signature(results["copied"][2]) == signature(results["shared"][2])
    same_scores = same and close(results["copied"][2], results["shared"][2])
    scale = LAYERS_7B / args.text_layers * 2 / 4  # 32 layers, bf16 instead of the measured float32
    weights = weights_bytes_7b(runner.processor)
    per_prompt = {layout: results[layout][0] * scale for layout in results}
    fits = {layout: int((GPU_BYTES - weights) // per_prompt[layout]) for layout in results}
    nodes = sum(len(t.nodes) for t in results["shared"][2])
    for layout in results:
        print(f"{layout}: {results[layout][0] / 1e6:.1f} MB per prompt measured ({args.text_layers} layer(s), fp32), "
              f"{per_prompt[layout] / 1e9:.2f} GB at 32 layers bf16; {fits[layout]} prompts fit in 80 GB; "
              f"search {results[layout][1]:.1f} s")
    print(f"{len(items)} prompts, {nodes} candidates; same candidates: {same}, same scores (1e-4): {same_scores}")
    baseline, ours = ({"median": per_prompt[k], "min": per_prompt[k], "max": per_prompt[k]} for k in results)
    result = write_result("kv_memory_llava-1.5-7b", baseline, ours, GOAL, True,
                          " ".join(["python speed/kv_memory.py", *sys.argv[1:]]),
                          unit="bytes",
                          what="KV bytes per prompt at 32 layers, bf16 (ratio = copied / shared)",
                          measured_bytes_per_prompt={k: v[0] for k, v in results.items()},
                          measured_text_layers=args.text_layers, measured_dtype="float32",
                          prompts_per_batch_in_80gb=fits, weights_bytes_bf16=weights,
                          search_seconds={k: v[1] for k, v in results.items()},
                          identical_candidates=same, identical_scores_1e4=same_scores, candidates=nodes,
                          settings={"token_beams": s.token_beams, "num_beams": s.num_beams,
                                    "max_sentence_tokens": s.max_sentence_tokens, "max_sentences": s.max_sentences})
    print(f"KV per prompt: copied / shared = {result['ratio']:.1f}x (goal {GOAL}x)")
    return 0 if same_scores else 1


if __name__ == "__main__":
    sys.exit(main())
