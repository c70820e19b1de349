"""Settings of ``csr-train pretrain-micro`` (defaults = ``configs/pretrain_micro.yaml``).

The LLaVA recipe is a curriculum, because the yes/no answer needs two hops at once (read the question's
object, then look for it in the image) and neither alone lowers the loss: trained together with captions
from the start, the answer loss sits at ln 2 for hundreds of steps. So:

1. ``captions``: description + yes/no conversations, so that the language model learns to read objects
   off the image tokens (from scratch, yes/no-only training never left the plateau in 400 steps);
2. ``qa_warmup``: yes/no-only conversations with easy (random) negatives at a constant learning rate, until
   the answer loss falls below ``escape_loss`` (or ``max_steps``). Questions use one phrasing only, so the
   question's object sits at a fixed distance from the answer (with POPE's and MME's suffixes mixed in,
   the plateau was not left within 300 steps);
3. ``mixed``: every conversation has a description turn and yes/no turns in all phrasings, the answer token
   up-weighted, cosine decay. Negatives are drawn uniformly from the absent objects, so only about one in
   seven is an absent object of the image's own scene (the hard case POPE-adversarial measures): with half
   of them hard (``hard_negative_p=0.5``) the model learned co-occurrence away and adversarial F1 fell only
   1.5 points below random, less than in real LVLMs.

Descriptions carry scene-following noise, as web captions do: an absent object of the same scene is named
at the END of a one-object description with ``end_noise_p`` (greater than 0.5, so greedy decoding follows
it: greedy is a threshold), and at a random place of longer descriptions with ``noise_p``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClipPretrainConfig:
    embed_dim: int = 128
    vision_width: int = 128
    vision_layers: int = 3
    text_width: int = 128
    text_layers: int = 3
    head_width: int = 32
    context_length: int = 20
    steps: int = 300
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 20


@dataclass
class PhaseConfig:
    name: str = "mixed"
    max_steps: int = 800
    min_steps: int = 0
    escape_loss: float = 0.0  # end early once the answer loss (running mean of 20 steps) is below this; 0 = off
    caption_turn: float = 1.0  # probability that a conversation has a description turn
    qa_turns: int = 3
    hard_negative_p: float = 0.5  # share of "no" questions about an absent object of the image's scene
    answer_weight: float = 1.0  # loss weight of the Yes/No token relative to other supervised tokens
    varied_questions: bool = True  # POPE/MME suffixes and "this image"; False: only "Is there a X in the image?"
    lr: float = 1e-3
    schedule: str = "cosine"  # "constant" or "cosine" (to min_lr_ratio · lr)


@dataclass
class LlavaPretrainConfig:
    text_width: int = 256
    text_layers: int = 4
    text_heads: int = 4
    text_mlp: int = 704
    vocab_size: int = 512
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    noise_p: float = 0.2
    end_noise_p: float = 0.7
    phases: list[PhaseConfig] = field(default_factory=lambda: [
        PhaseConfig("captions", max_steps=400, caption_turn=1.0, qa_turns=3, hard_negative_p=0.0,
                    answer_weight=1.0, varied_questions=False, lr=1e-3, schedule="constant"),
        PhaseConfig("qa_warmup", max_steps=400, min_steps=20, escape_loss=0.45, caption_turn=0.0, qa_turns=4,
                    hard_negative_p=0.0, answer_weight=1.0, varied_questions=False, lr=1e-3, schedule="constant"),
        PhaseConfig("mixed", max_steps=500, caption_turn=1.0, qa_turns=3, hard_negative_p=0.0, answer_weight=5.0,
                    lr=1e-3, schedule="cosine"),
    ])


@dataclass
class PretrainConfig:
    seed: int = 0
    threads: int = 2
    log_every: int = 20
    clip: ClipPretrainConfig = field(default_factory=ClipPretrainConfig)
    llava: LlavaPretrainConfig = field(default_factory=LlavaPretrainConfig)
