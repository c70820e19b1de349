"""Training data for the micro models, drawn fresh from the micro-world at every step.

Why fresh scenes: the world is a generator, so an infinite stream costs nothing and the models never see
the same image twice (no memorising). The stream has its own random source (``split_rng(seed, "pretrain",
...)``), disjoint from the exported train/csr/val splits.

Descriptions are the micro-world's LLaVA-style detailed descriptions with *scene-following noise*: an
absent object of the image's own scene is named, the way web captions mention things that usually go
together. That noise is what the micro-LLaVA learns to over-trust, so that it hallucinates the way real
LVLMs do, and what CSR is meant to remove.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from csr_eval.micro.export import split_rng
from csr_eval.micro.language import (CHAIR_PROMPT, DETAIL_PROMPTS, SHORT_ANSWER_SUFFIX, article, object_sentence,
                                     pope_question)
from csr_eval.micro.world import CATEGORIES, GRID, POSITIONS, SCENE_BY_NAME, Scene, render, sample_scene

CAPTION_PROMPTS = DETAIL_PROMPTS + (CHAIR_PROMPT, "Describe the image in detail.")
YES_NO_SUFFIXES = ("", SHORT_ANSWER_SUFFIX, " Please answer yes or no.")
# The normalisation of OpenAI CLIP, which both CLIPImageProcessor and open_clip use.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def absent_same_scene(scene: Scene) -> list[str]:
    """Objects of the scene's type that are not in the image: the co-occurrence a model over-trusts."""
    return [n for n in SCENE_BY_NAME[scene.scene_type].objects if n not in scene.object_names]


def noisy_description(scene: Scene, rng: random.Random, noise_p: float, end_noise_p: float) -> str:
    """A detailed description, sometimes naming one absent same-scene object at a free cell.

    One-object scenes get the extra sentence at the end with ``end_noise_p``; longer ones at a random place
    with ``noise_p``.
    """
    sentences = [object_sentence(o.category, o.position, rng.randint(0, 1)) for o in scene.objects]
    absent = absent_same_scene(scene)
    free = [c for c in range(GRID * GRID) if c not in {o.cell for o in scene.objects}]
    one_object = len(scene.objects) == 1
    if absent and free and rng.random() < (end_noise_p if one_object else noise_p):
        extra = object_sentence(rng.choice(absent), POSITIONS[rng.choice(free)], rng.randint(0, 1))
        sentences.insert(len(sentences) if one_object else rng.randint(0, len(sentences)), extra)
    return " ".join(sentences)


def clip_sentence(scene: Scene, rng: random.Random) -> str:
    """One sentence about one present object, in the phrasings descriptions use (CSR scores sentences)."""
    obj = rng.choice(scene.objects)
    style = rng.randrange(3)
    if style == 2:
        return f"There is {article(obj.category)} {obj.category}."
    return object_sentence(obj.category, obj.position, style)


def yes_no_turn(scene: Scene, rng: random.Random, hard_negative_p: float, varied: bool = True) -> tuple[str, str]:
    """A POPE/MME-style existence question with its answer, yes and no equally often.

    ``varied``: also "in this image" and the answer-format suffixes of POPE and MME.
    """
    if rng.random() < 0.5:
        name, answer = rng.choice(scene.object_names), "Yes"
    else:
        hard = absent_same_scene(scene)
        pool = hard if hard and rng.random() < hard_negative_p else \
            [c.name for c in CATEGORIES if c.name not in scene.object_names]
        name, answer = rng.choice(pool), "No"
    question = pope_question(name)
    if not varied:
        return question, answer
    if rng.random() < 0.3:
        question = question.replace("in the image?", "in this image?")
    return question + rng.choice(YES_NO_SUFFIXES), answer


@dataclass
class Turn:
    prompt: str
    answer: str
    is_yes_no: bool


def render_conversation(turns: list[Turn]) -> tuple[str, list[tuple[int, int, bool]]]:
    """The chat-template text of a conversation and the character spans of what the model must say.

    Equal to ``processor.apply_chat_template`` for the same messages (tested); spans are
    ``(start, end, is_yes_no)`` of each answer including its ``</s>``.
    """
    text, spans = "", []
    for i, turn in enumerate(turns):
        text += "USER: " + ("<image>\n" if i == 0 else "") + turn.prompt + " ASSISTANT: "
        start = len(text)
        text += turn.answer + "</s>"
        spans.append((start, len(text), turn.is_yes_no))
    return text, spans


def conversation_messages(turns: list[Turn]) -> list[dict]:
    """The same conversation as chat messages (for checking against the processor's template)."""
    messages = []
    for i, turn in enumerate(turns):
        content = ([{"type": "image"}] if i == 0 else []) + [{"type": "text", "text": turn.prompt}]
        messages += [{"role": "user", "content": content},
                     {"role": "assistant", "content": [{"type": "text", "text": turn.answer}]}]
    return messages


def pixel_values(images) -> torch.Tensor:
    """CLIP normalisation of 64×64 RGB images, equal to ``CLIPImageProcessor`` at this size (tested)."""
    array = np.stack([np.asarray(im, dtype=np.float32) for im in images]) / 255.0
    tensor = torch.from_numpy(array).permute(0, 3, 1, 2)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return ((tensor - mean) / std).contiguous()


class MicroStream:
    """Scenes, conversations and CLIP pairs for pretraining, reproducible from the seed."""

    def __init__(self, seed: int, noise_p: float = 0.2, end_noise_p: float = 0.7, purpose: str = "llava"):
        self.rng = split_rng(seed, "pretrain", purpose)
        self.noise_p, self.end_noise_p = noise_p, end_noise_p

    def scene(self) -> Scene:
        return sample_scene(self.rng)

    def conversation(self, scene: Scene, caption_turn: float, qa_turns: int, hard_negative_p: float,
                     varied_questions: bool = True) -> list[Turn]:
        rng = self.rng
        turns = [Turn(*yes_no_turn(scene, rng, hard_negative_p, varied_questions), True) for _ in range(qa_turns)]
        if rng.random() < caption_turn:
            caption = Turn(rng.choice(CAPTION_PROMPTS),
                           noisy_description(scene, rng, self.noise_p, self.end_noise_p), False)
            turns.insert(0 if rng.random() < 0.5 else rng.randint(1, len(turns)), caption)
        return turns or [Turn(*yes_no_turn(scene, rng, hard_negative_p, varied_questions), True)]

    def clip_batch(self, n: int) -> tuple[list, list[str]]:
        scenes = [self.scene() for _ in range(n)]
        return [render(s) for s in scenes], [clip_sentence(s, self.rng) for s in scenes]


def encode_conversations(tokenizer, conversations: list[list[Turn]], image_tokens: int,
                         answer_weight: float, image_markup: str = "<image>") -> dict[str, torch.Tensor]:
    """Token ids (``<image>`` expanded as the processor does, inside the family's ``image_markup``, e.g.
    Qwen's ``<|vision_start|><image><|vision_end|>``), right padding, and per-token loss weights.

    ``weights[b, t]`` is the weight of predicting token ``t``; 0 on prompt, image and padding tokens,
    ``answer_weight`` on a Yes/No answer, 1 on description tokens and every ``</s>``. ``yes_no[b, t]`` marks
    the answer tokens, so that their loss can be logged apart: it sits at ln 2 while the model has not yet
    learned to look for the question's object.
    """
    image = tokenizer.image_token if hasattr(tokenizer, "image_token") else "<image>"
    expanded = image_markup.replace("<image>", image * image_tokens)
    texts, all_spans = [], []
    for turns in conversations:
        text, spans = render_conversation(turns)
        shift = len(expanded) - len(image)
        cut = text.index(image) + len(image)
        texts.append(text.replace(image, expanded, 1))
        all_spans.append([(s + shift, e + shift, yn) if s >= cut else (s, e, yn) for s, e, yn in spans])
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, padding=True,
                    return_tensors="pt")
    offsets = enc["offset_mapping"]
    weights = torch.zeros(offsets.shape[:2])
    yes_no = torch.zeros(offsets.shape[:2], dtype=torch.bool)
    eos = tokenizer.eos_token
    for b, spans in enumerate(all_spans):
        for start, end, is_yes_no in spans:
            inside = (offsets[b, :, 1] > start) & (offsets[b, :, 0] < end) & enc["attention_mask"][b].bool()
            weights[b, inside] = 1.0
            if is_yes_no:
                answer = inside & (offsets[b, :, 1] <= end - len(eos))
                weights[b, answer] = answer_weight
                yes_no[b] |= answer
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "weights": weights,
            "yes_no": yes_no}
