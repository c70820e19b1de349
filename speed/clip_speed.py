"""CLIP scoring (R_I, Eq. 3): how the search scores (``SentenceRewarder``: a batch of prompts' images embedded
once in one call, all their candidate sentences in one call) against one CLIP call per sentence with the
image re-encoded each time (the released code's ``score.py`` pattern).

    python speed/clip_speed.py [--prompts 8] [--repeats 3]

The sentences are real candidates: the micro search's trees for ``--prompts`` prompts of the micro-world,
scored with the shipped micro-CLIP. Both ways must give the same R_I (checked to 1e-4).
"""

from __future__ import annotations

import argparse
import sys

import torch
from common import timed, write_result
from search_speed import load

from csr_train.reward import image_relevance_score
from csr_train.search import SentenceBeamSearch, SentenceRewarder

GOAL = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clip", default="micro-clip",
                        help="micro-clip, or e.g. open_clip:ViT-L-14-336 (the released code's CLIP architecture, "
                             "random weights offline)")
    args = parser.parse_args()
    config, runner, clip, items = load(args.prompts)
    if args.clip != "micro-clip":
        from csr_train.reward import ClipRelevance
        clip = ClipRelevance(args.clip)
    search = SentenceBeamSearch(runner.model, runner.processor, config.search, SentenceRewarder(clip, 0.9),
                                runner.prompt_text)
    trees = search.search(items)
    work = [(item.image, [n.text for n in tree.nodes]) for item, tree in zip(items, trees)]
    n_sentences = sum(len(s) for _, s in work)

    def per_sentence():
        return [[image_relevance_score(float(clip.embed_sentences([s])[0] @ clip.embed_image(image)))
                 for s in sentences] for image, sentences in work]

    rewarder = SentenceRewarder(clip, 0.9)
    flat = [(k, node) for k, tree in enumerate(trees) for node in tree.nodes]

    def batched():
        embeddings = rewarder.start_batch([image for image, _ in work])
        rewarder.score([node for _, node in flat], [embeddings[k] for k, _ in flat])
        out = [[] for _ in work]
        for k, node in flat:
            out[k].append(node.r_i)
        return out

    torch.set_grad_enabled(False)
    baseline, slow = timed(per_sentence, args.repeats)
    ours, fast = timed(batched, args.repeats)
    same = all(abs(a - b) < 1e-4 for x, y in zip(slow, fast) for a, b in zip(x, y))
    print(f"{len(work)} images, {n_sentences} sentences; same R_I: {same}")
    name = "clip_scoring" if args.clip == "micro-clip" else f"clip_scoring_{args.clip.split(':')[-1]}"
    write_result(name, baseline, ours, GOAL, True, " ".join(["python speed/clip_speed.py", *sys.argv[1:]]),
                 clip=args.clip, images=len(work), sentences=n_sentences, same_scores=same,
                 sentences_per_second={"baseline": n_sentences / baseline["median"],
                                       "ours": n_sentences / ours["median"]})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
