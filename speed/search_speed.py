"""Candidate generation: our sentence-level search against the released algorithm's cost structure.

    python speed/search_speed.py [--prompts 16] [--repeats 3]
    python speed/search_speed.py --shape llava-1.5-7b --device cuda --dtype bfloat16 --prompts 32  # a GPU

Both search the same way (configs/micro.yaml's settings, paper mode) on the shipped micro-LLaVA and
micro-CLIP, on the same prompts, in one process. The baseline, ``ReleasedCostSearch`` below, re-creates what
the released ``sample.py`` pays for every node: one prompt at a time, each frontier node continued alone
(batch 1) after re-prefilling the image and the whole prefix, and CLIP called per sentence with the image
re-encoded. Ours: prompts and frontier nodes batched, each node continuing from its parent's KV cache, the
image embedded once. The candidate trees must be identical; the script checks it and stops if not.

``--shape llava-1.5-7b`` builds, offline and with random weights, a ``LlavaForConditionalGeneration`` of
LLaVA-1.5-7B's shapes (CLIP ViT-L/14 at 336 px: 576 image tokens; a 32-layer, 4096-wide Llama) with the
micro tokenizer (so its vocabulary, 512, replaces 32,064: 0.25 B of 7 B parameters) and reports generated
tokens per second against the memory-bandwidth bound (every decoding step reads all weights once). Random
weights rarely write "." so sentences run to ``max_sentence_tokens``: the lengths are forced, as the
released code's worst case.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from common import RESULTS, micro_world, timed, write_result

from csr_train.search import SearchTree, SentenceBeamSearch, SentenceRewarder

GOAL = 10.0


class ReleasedCostSearch(SentenceBeamSearch):
    """Our search algorithm with the released code's costs: batch 1, every node re-prefilled from its text
    (the processor run again on the image and the prompt + sentences so far, the vision tower run again),
    CLIP per sentence with the image re-encoded, every token beam holding a copy of the node's context
    (``kv_layout: copied``; the released ``generate`` calls even prefill the prompt once per beam). The prefill
    uses the node's own token ids, so that both searches see the same numbers; ``retokenized_differ`` counts
    nodes whose re-tokenised text would differ."""

    retokenized_differ = 0

    def __init__(self, model, processor, settings, *args, **kwargs):
        # every beam holds a copy of its node's whole context, as generate(num_beams=...) expands the prompt
        super().__init__(model, processor, dataclasses.replace(settings, kv_layout="copied"), *args, **kwargs)

    def search(self, items):
        trees = []
        for item in items:  # one prompt at a time
            self._item = item
            trees += self._search_one(item)
        return trees

    def _search_one(self, item):
        trees = [SearchTree(item.prompt_id, item.image_path, item.prompt)]
        frontier, pixels = self._prefill([item])
        while frontier:
            candidates = []
            for node in frontier:  # each frontier node alone, re-prefilled from scratch
                candidates += self._sentence_step([self._reprefill(node)], trees, pixels)
            for sentence, _ in candidates:  # CLIP once per sentence, image re-encoded each time
                image_embedding = self.rewarder.clip.embed_image(item.image)
                self.rewarder.score([sentence], [image_embedding])
            frontier = self._prune(candidates, trees)
        return trees

    def _reprefill(self, node):
        import torch

        tokenizer = self.processor.tokenizer
        prompt = self.prompt_text(self._item.prompt)
        prompt_ids = self.processor(images=[self._item.image], text=[prompt], return_tensors="pt")["input_ids"][0]
        response = tokenizer.decode(node.history[len(prompt_ids):], skip_special_tokens=True)
        inputs = self.processor(images=[self._item.image], text=[prompt + response], return_tensors="pt")
        if inputs["input_ids"][0].tolist() != node.history:
            ReleasedCostSearch.retokenized_differ += 1
        ids = torch.tensor([node.history[:-1]], device=self.device)
        pixels = inputs["pixel_values"].to(self.device, self.model.dtype)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels,
                             use_cache=True)
        node.context = [(layer.keys, layer.values) for layer in out.cache.layers]
        return node


def llava_shaped(device: str, dtype: str, micro_processor, text_layers: int = 32, vision_layers: int = 24):
    """LLaVA-1.5-7B's architecture with random weights, built from its config (no download)."""
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig, \
        LlavaForConditionalGeneration, LlavaProcessor

    tokenizer = micro_processor.tokenizer
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=vision_layers,
                                       num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768),
        text_config=LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=text_layers,
                                num_attention_heads=32, num_key_value_heads=32, vocab_size=len(tokenizer),
                                max_position_embeddings=4096),
        image_token_id=micro_processor.tokenizer.convert_tokens_to_ids(micro_processor.image_token),
        vision_feature_layer=-2, vision_feature_select_strategy="default", projector_hidden_act="gelu")
    with torch.device(device):
        model = LlavaForConditionalGeneration(config).to(getattr(torch, dtype)).eval()
    image_processor = CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=micro_processor.chat_template)
    return model, processor


def load(prompts: int, shape: str = "micro", device: str = "cpu", dtype: str = "float32", text_layers: int = 32):
    from csr_eval.io import load_rgb_image
    from csr_eval.runner import ModelRunner
    from csr_eval.micro.shipped import shipped_model
    from csr_train.config import load_csr_config
    from csr_train.prompts import load_prompts
    from csr_train.reward import ClipRelevance
    from csr_train.search import PromptItem

    config = load_csr_config("configs/micro.yaml")
    world = micro_world(RESULTS / "micro-world-bench", prompts)
    runner = ModelRunner.load(shipped_model("micro-llava"), device=device, dtype=dtype)
    if shape == "llava-1.5-7b":
        runner.model, runner.processor = llava_shaped(device, dtype, runner.processor, text_layers)
    items = [PromptItem(p.prompt_id, p.image, p.text, load_rgb_image(world / "images" / "csr" / p.image))
             for p in load_prompts(world / "llava_instruct_150k.json")[:prompts]]
    clip = ClipRelevance.micro()
    return config, runner, clip, items


def trees_text(trees) -> list:
    return [[(n.parent, n.text, n.expanded) for n in t.nodes] for t in trees]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shape", choices=["micro", "llava-1.5-7b"], default="micro")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--text-layers", type=int, default=32, help="llava-1.5-7b shape: fewer layers for a CPU smoke run")
    parser.add_argument("--max-sentence-tokens", type=int, help="override configs/micro.yaml's 74")
    parser.add_argument("--prompts-per-batch", type=int, help="ours: prompts searched together (configs/micro.yaml: 16)")
    parser.add_argument("--skip-baseline", action="store_true", help="time ours only (the baseline is slow at 7B)")
    args = parser.parse_args()
    config, runner, clip, items = load(args.prompts, args.shape, args.device, args.dtype, args.text_layers)
    if args.max_sentence_tokens:
        config.search.max_sentence_tokens = args.max_sentence_tokens
    if args.prompts_per_batch:
        config.search.prompts_per_batch = args.prompts_per_batch
    s = config.search
    rewarder = lambda: SentenceRewarder(clip, config.reward.effective_lambda())  # noqa: E731

    def run(kind):
        search_class = ReleasedCostSearch if kind == "baseline" else SentenceBeamSearch
        search = search_class(runner.model, runner.processor, s, rewarder(), runner.prompt_text,
                              config.reward.aggregate)
        batch = 1 if kind == "baseline" else s.prompts_per_batch
        return [t for start in range(0, len(items), batch) for t in search.search(items[start:start + batch])]

    baseline, base_trees = (None, None) if args.skip_baseline else timed(lambda: run("baseline"), args.repeats)
    ours, our_trees = timed(lambda: run("ours"), args.repeats)
    same = None if base_trees is None else trees_text(base_trees) == trees_text(our_trees)
    nodes = sum(len(t.nodes) for t in our_trees)
    tokens = sum(len(n.token_ids) for t in our_trees for n in t.nodes)
    print(f"{len(items)} prompts, {nodes} candidate sentences, {tokens} tokens; identical trees: {same}")
    extra = {}
    if args.shape != "micro":
        extra = bandwidth_bound(runner.model, tokens, ours["median"], args.device)
    name = "search" if args.shape == "micro" else f"search_{args.shape}_{args.device}"
    write_result(name, baseline, ours, GOAL, True, " ".join(["python speed/search_speed.py", *sys.argv[1:]]),
                 prompts=len(items), candidate_sentences=nodes, identical_candidates=same,
                 baseline_nodes_whose_retokenized_text_differs=ReleasedCostSearch.retokenized_differ // args.repeats,
                 prompts_per_second={"baseline": len(items) / baseline["median"],
                                     "ours": len(items) / ours["median"]},
                 settings={"mode": s.mode, "num_beams": s.num_beams, "token_beams": s.token_beams,
                           "beam_groups": s.beam_groups, "max_sentence_tokens": s.max_sentence_tokens,
                           "max_sentences": s.max_sentences, "prompts_per_batch": s.prompts_per_batch},
                 shape=args.shape, **extra)
    return 0 if same in (True, None) else 1


def bandwidth_bound(model, tokens: int, seconds: float, device: str) -> dict:
    """Candidate tokens per second, and the decoding steps per second that reading every weight once per step
    allows (the memory-bandwidth bound of batch decoding); bandwidth from a device-to-device copy."""
    import torch

    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    out = {"candidate_tokens": tokens, "tokens_per_second": tokens / seconds, "weight_gb": weight_bytes / 1e9}
    if device.startswith("cuda"):
        buffer = torch.empty(2 * 1024 ** 3, dtype=torch.uint8, device=device)
        copy = torch.empty_like(buffer)
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(10):
            copy.copy_(buffer)
        end.record()
        torch.cuda.synchronize()
        bandwidth = 2 * 10 * buffer.numel() / (start.elapsed_time(end) / 1000)  # read + write
        out.update({"measured_bandwidth_gb_s": bandwidth / 1e9,
                    "bound_steps_per_second": bandwidth / weight_bytes})
    return out


if __name__ == "__main__":
    sys.exit(main())
