"""The calibrated reward of CSR (paper §3.1): Eq. 2, 3 and 4, and the response reward.

* Eq. 2 — self-generated instruction-following score: R_T(s) = ∏_o P(r_o | x, r_1 … r_{o−1}), the
  product of the model's own token probabilities of the sentence;
* Eq. 3 — image-response relevance: R_I(s) = max(100 · cos(F_I(x_v), F_T(s)), 0) with CLIP embeddings;
* Eq. 4 — calibrated reward: R(s) = λ · R_I(s) + (1 − λ) · R_T(s), λ = 0.9 in the paper.

As written, R_I lives in [0, 100] and R_T in [0, 1], so with λ = 0.9 the visual term dominates; the
paper's equations are implemented as written. The released code instead mixes per-sibling *ranks*
(0.1 · rank_LM + 0.9 · rank_CLIP, see ``docs/training.md``, the paper-vs-released table); that mode lives with
the search, which owns the tree.

The response reward is the sum of sentence rewards in the paper and their mean over the path in the
released code. With non-negative rewards the sum prefers longer answers (in a micro-world prototype, DPO
on sum-chosen pairs made the model longer and more hallucinating), so ``mean`` is the default.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from csr_eval.micro.shipped import shipped_model

AGGREGATES = ("mean", "sum")


def instruction_following_score(token_logprobs: Sequence[float]) -> float:
    """Eq. 2: the product of the sentence's token probabilities, computed as exp(Σ log p)."""
    if not token_logprobs:
        raise ValueError("a sentence has at least one token")
    return math.exp(sum(token_logprobs))


def image_relevance_score(cosine: float) -> float:
    """Eq. 3: max(100 · cos, 0) for one (image, sentence) pair."""
    return max(100.0 * cosine, 0.0)


def calibrated_reward(r_i: float, r_t: float, lam: float = 0.9) -> float:
    """Eq. 4: λ · R_I + (1 − λ) · R_T. λ = 1 is Only-R_I, λ = 0 is Only-R_T (Table 2)."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"λ must lie in [0, 1], got {lam}")
    return lam * r_i + (1.0 - lam) * r_t


CONFIRMED_STATEMENT, SUSPECTED_HALLUCINATION, REPEATED_STATEMENT = 100.0, -200.0, -50.0


def presence_verdict(r_i: float, threshold: float) -> float:
    """Beyond the paper: R_I as a presence verdict, in the oracle's units (csr_train.oracle): a sentence CLIP
    confirms (R_I ≥ threshold) earns 100, one it does not costs 200 (a suspected hallucination); a repetition
    (reward.redundancy_threshold) is set to −50 by the caller. Summed over a response this is the oracle's
    rule with CLIP as the detector: confirmed statements − 2 × suspected hallucinations − 0.5 × repetitions."""
    return CONFIRMED_STATEMENT if r_i >= threshold else SUSPECTED_HALLUCINATION


def response_reward(sentence_rewards: Sequence[float], aggregate: str = "mean") -> float:
    """R(y) over the response's sentences: ``sum`` (the paper) or ``mean`` (the released code, default)."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    if not sentence_rewards:
        raise ValueError("a response has at least one sentence")
    total = float(sum(sentence_rewards))
    return total if aggregate == "sum" else total / len(sentence_rewards)


class ClipRelevance:
    """R_I for many sentences of one image: the image is embedded once, the sentences in one batch.

    Backends: open_clip (``open_clip:<name or local-dir:PATH>[@pretrained]``, e.g. the micro-CLIP) and
    transformers ``CLIPModel`` (``hf:<id or path>``, default ``openai/clip-vit-large-patch14-336`` as the
    released code). Sentences longer than the text tower's context are truncated (the released code
    passed no truncation and could fail on long sentences).
    """

    def __init__(self, spec: str, device: str = "cpu"):
        import torch

        self.device = device
        kind, _, name = spec.partition(":")
        if kind == "open_clip":
            import open_clip

            name, _, pretrained = name.partition("@")
            self.model, _, self.preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained or None)
            self.tokenizer = open_clip.get_tokenizer(name)
            self.backend = "open_clip"
        elif kind == "hf":
            from transformers import CLIPModel, CLIPProcessor

            self.model = CLIPModel.from_pretrained(name)
            self.processor = CLIPProcessor.from_pretrained(name)
            self.backend = "hf"
        else:
            raise ValueError(f"CLIP spec must start with 'open_clip:' or 'hf:', got {spec!r}")
        self.model.to(device).eval()
        self._torch = torch

    @classmethod
    def micro(cls) -> "ClipRelevance":
        return cls(f"open_clip:local-dir:{Path(shipped_model('micro-clip'))}")

    def embed_image(self, image):
        return self.embed_images([image])[0]

    def embed_images(self, images: Sequence):
        """Unit image embeddings, all images through the tower in one batch."""
        torch = self._torch
        with torch.inference_mode():
            if self.backend == "open_clip":
                pixels = torch.stack([self.preprocess(image.convert("RGB")) for image in images]).to(self.device)
                features = self.model.encode_image(pixels)
            else:
                pixels = self.processor(images=[image.convert("RGB") for image in images],
                                        return_tensors="pt")["pixel_values"]
                features = self.model.get_image_features(pixel_values=pixels.to(self.device))
                features = getattr(features, "pooler_output", features)
        return torch.nn.functional.normalize(features.float(), dim=-1)

    def embed_sentences(self, sentences: Sequence[str]):
        """Unit text embeddings, one per sentence; each distinct sentence goes through the tower once (a batch
        of search trees repeats most of its sentences: 30 % distinct in the micro-world's)."""
        torch = self._torch
        distinct = list(dict.fromkeys(sentences))
        with torch.inference_mode():
            if self.backend == "open_clip":
                features = self.model.encode_text(self.tokenizer(distinct).to(self.device))
            else:
                tokens = self.processor(text=distinct, return_tensors="pt", padding=True, truncation=True)
                features = self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})
                features = getattr(features, "pooler_output", features)
        features = torch.nn.functional.normalize(features.float(), dim=-1)
        if len(distinct) == len(sentences):
            return features
        index = {text: k for k, text in enumerate(distinct)}
        return features[torch.tensor([index[text] for text in sentences])]

    def scores(self, image_embedding, sentences: Sequence[str]) -> list[float]:
        """Eq. 3 for each sentence against an image embedded once with :meth:`embed_image`."""
        if not sentences:
            return []
        cosines = self.embed_sentences(sentences) @ image_embedding
        return [image_relevance_score(float(c)) for c in cosines]
