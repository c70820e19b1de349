"""Train the micro-LLaVA: vision tower from the micro-CLIP (frozen), projector and Llama LM from scratch.

The phases of ``LlavaPretrainConfig.phases`` run in order (see ``config.py`` for why a curriculum). The
answer-token loss is logged apart from the total: while the model has not learned to look for the
question's object in the image it sits at ln 2 ≈ 0.693, invisible in the total loss.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from PIL import Image

from csr_eval.micro.families import QWEN_IMAGE_MARKUP, MicroFamilyConfig, build_micro_family
from csr_eval.micro.models import MicroLlavaConfig, build_micro_llava
from csr_eval.micro.world import IMAGE_SIZE, render
from csr_train.pretrain_micro.config import LlavaPretrainConfig, PhaseConfig
from csr_train.pretrain_micro.data import MicroStream, encode_conversations, pixel_values
from csr_train.pretrain_micro.vision_transfer import load_into_vision_tower


def architecture(config: LlavaPretrainConfig, clip_config) -> MicroLlavaConfig:
    return MicroLlavaConfig(vision_width=clip_config.vision_width, vision_layers=clip_config.vision_layers,
                            vision_heads=clip_config.vision_width // clip_config.head_width,
                            text_width=config.text_width, text_layers=config.text_layers,
                            text_heads=config.text_heads, text_mlp=config.text_mlp)


def weighted_loss(logits: torch.Tensor, batch: dict) -> tuple[torch.Tensor, float | None, float | None]:
    """Weighted next-token loss, and the mean loss of Yes/No tokens and of the other supervised tokens."""
    weights, yes_no = batch["weights"][:, 1:], batch["yes_no"][:, 1:]
    ce = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                         batch["input_ids"][:, 1:].reshape(-1), reduction="none").view(weights.shape)
    loss = (ce * weights).sum() / weights.sum().clamp_min(1e-8)
    other = (weights > 0) & ~yes_no
    answer_loss = ce[yes_no].mean().item() if yes_no.any() else None
    other_loss = ce[other].mean().item() if other.any() else None
    return loss, answer_loss, other_loss


def phase_lr(phase: PhaseConfig, step: int, steps: int, warmup: int, min_ratio: float) -> float:
    scale = min(1.0, step / warmup) if warmup else 1.0
    if phase.schedule == "cosine":
        progress = min(1.0, step / max(1, steps))
        scale *= min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    elif phase.schedule != "constant":
        raise ValueError(f"phase {phase.name!r}: schedule must be 'constant' or 'cosine', got {phase.schedule!r}")
    return phase.lr * scale


@dataclass
class MicroBuild:
    """What the training loop needs of a family: the model and processor, the image's token count and markup,
    the model's inputs beside ids and mask (from the images and the ids), and the module that stays frozen."""
    model: object
    processor: object
    image_tokens: int
    image_markup: str
    model_inputs: Callable[[list, object], dict]  # (images, input_ids) -> pixel inputs and the like
    frozen: object | None  # a module kept frozen and in eval mode (the micro-LLaVA's CLIP tower), or None


def build_llava(config: LlavaPretrainConfig, clip_config, clip_model, tokenizer, seed: int) -> MicroBuild:
    """The micro-LLaVA on the micro-CLIP's image encoder (transferred, frozen)."""
    model, processor = build_micro_llava(tokenizer, architecture(config, clip_config), seed=seed)
    vision_tower = model.model.vision_tower
    load_into_vision_tower(vision_tower, clip_model.visual)
    vision_tower.requires_grad_(False)
    return MicroBuild(model, processor, model.config.image_seq_length, "<image>",
                      lambda images, ids: {"pixel_values": pixel_values(images)}, vision_tower)


def build_family(family: str, config: LlavaPretrainConfig, clip_config, tokenizer, seed: int) -> MicroBuild:
    """A micro model of another family (csr_eval.micro.families) with the micro-LLaVA's language-model sizes.
    Its vision encoder is the family's own (Qwen's ViT cannot take CLIP's weights), so it trains from scratch
    with the rest; the processor's image processor makes its inputs, as at inference."""
    sizes = MicroFamilyConfig(text_width=config.text_width, text_layers=config.text_layers,
                              text_heads=config.text_heads, text_kv_heads=config.text_heads, text_mlp=config.text_mlp,
                              vision_width=clip_config.vision_width, vision_layers=clip_config.vision_layers,
                              vision_heads=clip_config.vision_width // clip_config.head_width)
    model, processor = build_micro_family(family, tokenizer, sizes, seed=seed)
    image_token = model.config.image_token_id

    def model_inputs(images, input_ids):
        # the token types let a Qwen2-VL-family model compute its own 3-D positions in training
        return {**processor.image_processor(images=images, return_tensors="pt"),
                "mm_token_type_ids": (input_ids == image_token).long()}

    probe = processor(images=[Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE))], text=[processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}], tokenize=False)],
        return_tensors="pt")
    image_tokens = int((probe["input_ids"] == image_token).sum())
    markup = QWEN_IMAGE_MARKUP if family.startswith("qwen") else "<image>"
    return MicroBuild(model, processor, image_tokens, markup, model_inputs, None)


def train_llava(config: LlavaPretrainConfig, clip_config, clip_model, tokenizer, seed: int, log=print,
                log_every: int = 20, max_steps_per_phase: int | None = None, family: str = "llava"):
    """Build the micro model (the micro-LLaVA on the micro-CLIP's image encoder, or ``family``'s) and train it
    through the phases."""
    built = build_llava(config, clip_config, clip_model, tokenizer, seed) if family == "llava" else \
        build_family(family, config, clip_config, tokenizer, seed)
    model = built.model
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.phases[0].lr if config.phases else 1e-3,
                                  weight_decay=config.weight_decay, betas=(0.9, 0.98))
    stream = MicroStream(seed, noise_p=config.noise_p, end_noise_p=config.end_noise_p, purpose="llava")
    summary = []
    start = time.time()
    model.train()
    if built.frozen is not None:
        built.frozen.eval()
    for phase_index, phase in enumerate(config.phases):
        steps = phase.max_steps if max_steps_per_phase is None else min(phase.max_steps, max_steps_per_phase)
        warmup = config.warmup_steps if phase_index == 0 else 0
        recent = deque(maxlen=20)
        step = 0
        for step in range(1, steps + 1):
            lr = phase_lr(phase, step, steps, warmup, config.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            scenes = [stream.scene() for _ in range(config.batch_size)]
            conversations = [stream.conversation(s, phase.caption_turn, phase.qa_turns, phase.hard_negative_p,
                                                 phase.varied_questions) for s in scenes]
            batch = encode_conversations(tokenizer, conversations, built.image_tokens, phase.answer_weight,
                                         built.image_markup)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           **built.model_inputs([render(s) for s in scenes], batch["input_ids"])).logits
            loss, answer_loss, other_loss = weighted_loss(logits, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            if answer_loss is not None:
                recent.append(answer_loss)
            if step % log_every == 0 or step == steps:
                log({"stage": family, "phase": phase.name, "step": step, "loss": round(loss.item(), 4),
                     "answer_loss": None if answer_loss is None else round(sum(recent) / len(recent), 4),
                     "other_loss": None if other_loss is None else round(other_loss, 4), "lr": lr,
                     "seconds": round(time.time() - start, 1)})
            escaped = phase.escape_loss > 0 and len(recent) == recent.maxlen and \
                sum(recent) / len(recent) < phase.escape_loss
            if escaped and step >= phase.min_steps:
                log({"stage": family, "phase": phase.name, "step": step, "event": "answer loss below "
                     f"{phase.escape_loss}: next phase", "seconds": round(time.time() - start, 1)})
                break
        summary.append({"phase": phase.name, "steps": step,
                        "final_answer_loss": round(sum(recent) / len(recent), 4) if recent else None})
    model.eval()
    return model, built.processor, summary
