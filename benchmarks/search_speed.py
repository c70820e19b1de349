"""Candidate generation: our sentence-level search against the released algorithm's cost structure.

    python benchmarks/search_speed.py [--prompts 16] [--repeats 3]

Both search the same way (configs/micro.yaml's settings, paper mode) on the shipped micro-LLaVA and
micro-CLIP, on the same prompts, in one process. The baseline, ``ReleasedCostSearch`` below, re-creates what
the released ``sample.py`` pays for every node: one prompt at a time, each frontier node continued alone
(batch 1) after re-prefilling the image and the whole prefix, and CLIP called per sentence with the image
re-encoded. Ours: prompts and frontier nodes batched, each node continuing from its parent's KV cache, the
image embedded once. The candidate trees must be identical; the script checks it and stops if not.
"""

from __future__ import annotations

import argparse
import sys

from common import micro_world, timed, write_result

from csr_train.search import SearchTree, SentenceBeamSearch, SentenceRewarder

GOAL = 10.0


class ReleasedCostSearch(SentenceBeamSearch):
    """Our search algorithm with the released code's costs: batch 1, every node re-prefilled (image re-encoded
    by the vision tower), CLIP per sentence with the image re-encoded."""

    def search(self, items):
        trees = []
        for item in items:  # one prompt at a time
            trees += self._search_one(item)
        return trees

    def _search_one(self, item):
        trees = [SearchTree(item.prompt_id, item.image_path, item.prompt)]
        frontier, self._pixels = self._prefill([item])
        while frontier:
            candidates = []
            for node in frontier:  # each frontier node alone, re-prefilled from scratch
                candidates += self._sentence_step([self._reprefill(node)], trees)
            for sentence, _ in candidates:  # CLIP once per sentence, image re-encoded each time
                image_embedding = self.rewarder.clip.embed_image(item.image)
                self.rewarder.score([sentence], [image_embedding])
            frontier = self._prune(candidates, trees)
        return trees

    def _reprefill(self, node):
        import torch

        ids = torch.tensor([node.history[:-1]], device=self.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=self._pixels,
                             use_cache=True)
        node.kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        return node


def load(prompts: int):
    from csr_eval.io import load_rgb_image
    from csr_eval.runner import ModelRunner
    from csr_eval.micro.shipped import shipped_model
    from csr_train.config import load_csr_config
    from csr_train.prompts import load_prompts
    from csr_train.reward import ClipRelevance
    from csr_train.search import PromptItem

    from common import RESULTS

    config = load_csr_config("configs/micro.yaml")
    world = micro_world(RESULTS / "micro-world-bench", prompts)
    runner = ModelRunner.load(shipped_model("micro-llava"), dtype="float32")
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
    args = parser.parse_args()
    config, runner, clip, items = load(args.prompts)
    s = config.search
    rewarder = lambda: SentenceRewarder(clip, config.reward.effective_lambda())  # noqa: E731

    def run(kind):
        search_class = ReleasedCostSearch if kind == "baseline" else SentenceBeamSearch
        search = search_class(runner.model, runner.processor, s, rewarder(), runner.prompt_text,
                              config.reward.aggregate)
        batch = 1 if kind == "baseline" else s.prompts_per_batch
        return [t for start in range(0, len(items), batch) for t in search.search(items[start:start + batch])]

    baseline, base_trees = timed(lambda: run("baseline"), args.repeats)
    ours, our_trees = timed(lambda: run("ours"), args.repeats)
    same = trees_text(base_trees) == trees_text(our_trees)
    nodes = sum(len(t.nodes) for t in our_trees)
    print(f"{len(items)} prompts, {nodes} candidate sentences; identical trees: {same}")
    write_result("search", baseline, ours, GOAL, True, f"python benchmarks/search_speed.py --prompts {args.prompts}",
                 prompts=len(items), candidate_sentences=nodes, identical_candidates=same,
                 prompts_per_second={"baseline": len(items) / baseline["median"],
                                     "ours": len(items) / ours["median"]},
                 settings={"mode": s.mode, "num_beams": s.num_beams, "token_beams": s.token_beams,
                           "beam_groups": s.beam_groups, "max_sentence_tokens": s.max_sentence_tokens,
                           "max_sentences": s.max_sentences, "prompts_per_batch": s.prompts_per_batch})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
