"""Greedy answers to several questions about one image from one prefill of that image.

Why: POPE asks each image ~18 questions (6 per split × 3 splits), MME 2, and a plain batch re-encodes the
image (vision tower and the 576 image-token prefill on LLaVA-1.5) once per question. Here the requests of a
batch are grouped by image; each group's longest common token prefix (the chat template's start and the image
tokens) is prefilled once, with the vision tower once, and each question attends to that one copy and to its
own tokens (:mod:`csr_eval.cascade`). Decoding is greedy like ``generate(do_sample=False, num_beams=1)``, so
this path is used only when the model's generation config adds no logits processing that would change the
argmax (:func:`why_not_shareable`); otherwise the runner calls ``generate``.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import torch

from csr_eval.cascade import CascadeCache, ReservedLayer, SharedLevel, cascade_forward
from csr_eval.model_family import TEXT_KEYS, base_model, family_of, processor_inputs

# generation-config fields that change greedy decoding's argmax, with their neutral values
LOGITS_PROCESSING = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "bad_words_ids": None, "min_length": 0,
                     "min_new_tokens": None, "suppress_tokens": None, "begin_suppress_tokens": None,
                     "forced_bos_token_id": None, "forced_eos_token_id": None, "sequence_bias": None,
                     "exponential_decay_length_penalty": None, "encoder_repetition_penalty": 1.0}


def why_not_shareable(model) -> str | None:
    """None if greedy decoding here gives ``generate``'s answers; else the reason (a field of the model's
    generation config that ``generate`` would apply, or no known image token)."""
    config = getattr(base_model(model), "generation_config", None)
    for field, neutral in LOGITS_PROCESSING.items():
        value = getattr(config, field, neutral)
        if value is not None and value != neutral:
            return f"generation_config.{field} = {value!r}"
    if getattr(base_model(model).config, "image_token_id", None) is None:
        return "the model config names no image_token_id"
    return None


def image_key(image) -> str:
    """Equal for equal pixels (benchmarks load an image once per question)."""
    return f"{image.mode}{image.size}" + hashlib.sha1(image.tobytes()).hexdigest()


def stop_tokens(model) -> set[int]:
    eos = base_model(model).generation_config.eos_token_id
    return set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])


def greedy_answers(model, processor, images: Sequence, texts: Sequence[str], max_new_tokens: int) -> list[list[int]]:
    """The new token ids of each (image, prompt text), greedy, without the stop token."""
    inputs = processor_inputs(model, processor, images, texts)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    vision = {key: value for key, value in inputs.items() if key not in TEXT_KEYS}
    family = family_of(model)
    positions = family.positions(model, ids, mask, vision)
    text_positions = positions[0] if positions.dim() == 3 else positions  # text after the image: all equal
    pads = (mask == 0).sum(1).tolist()
    groups: dict[str, list[int]] = {}
    for row, image in enumerate(images):
        groups.setdefault(image_key(image), []).append(row)
    group_rows = list(groups.values())
    shared = [_common_prefix([ids[r, pads[r]:].tolist() for r in rows]) for rows in group_rows]
    image_token = base_model(model).config.image_token_id
    for rows, length in zip(group_rows, shared):
        for r in rows:
            if int((ids[r, pads[r] + length:] == image_token).sum()):
                raise ValueError("image tokens after the shared prefix: this prompt layout cannot share the image")
    prefix = _prefill_images(model, ids, positions, vision, family, pads, group_rows, shared)
    group_of_row = {r: g for g, rows in enumerate(group_rows) for r in rows}
    rows = len(images)
    starts = [pads[r] + shared[group_of_row[r]] for r in range(rows)]
    width = max(ids.shape[1] - s for s in starts)
    suffix_ids = ids.new_zeros(rows, width)
    suffix_positions = text_positions.new_zeros(rows, width)
    suffix_valid = torch.zeros(rows, width, dtype=torch.bool, device=ids.device)
    for r, s in enumerate(starts):
        n = ids.shape[1] - s
        suffix_ids[r, width - n:], suffix_positions[r, width - n:] = ids[r, s:], text_positions[r, s:]
        suffix_valid[r, width - n:] = True
    level = SharedLevel.by_group(prefix[0], prefix[1], [group_of_row[r] for r in range(rows)])
    cache = CascadeCache([level], [ReservedLayer.empty(k, rows, width + max_new_tokens) for k, _ in prefix[0]],
                         suffix_valid)
    return _decode(model, cache, suffix_ids, suffix_positions, max_new_tokens)


def _common_prefix(sequences: list[list[int]]) -> int:
    """The longest common prefix, leaving every sequence at least its last token to step."""
    shortest = min(map(len, sequences))
    n = 0
    while n < shortest - 1 and all(seq[n] == sequences[0][n] for seq in sequences):
        n += 1
    return n


def _prefill_images(model, ids, positions, vision, family, pads, group_rows, shared):
    """One forward over each group's shared prefix (its first row's), left-padded: the prefix level's KV."""
    first = [rows[0] for rows in group_rows]
    longest = max(shared)
    batch_ids = ids.new_zeros(len(first), longest)
    batch_mask = torch.zeros_like(batch_ids)
    batch_positions = positions.new_zeros(*positions.shape[:-2], len(first), longest)
    for g, (r, n) in enumerate(zip(first, shared)):
        batch_ids[g, longest - n:] = ids[r, pads[r]:pads[r] + n]
        batch_mask[g, longest - n:] = 1
        batch_positions[..., g, longest - n:] = positions[..., r, pads[r]:pads[r] + n]
    with torch.inference_mode():
        out = model(input_ids=batch_ids, attention_mask=batch_mask, position_ids=batch_positions,
                    **family.vision_rows(vision, first), use_cache=True, logits_to_keep=1)
    return [(layer.keys, layer.values) for layer in out.cache.layers], batch_mask.bool()


def _decode(model, cache: CascadeCache, tokens, positions, max_new_tokens: int) -> list[list[int]]:
    """Greedy steps until every row has written a stop token or ``max_new_tokens``."""
    language_model = base_model(model).get_decoder()
    stops = stop_tokens(model)
    answers = [[] for _ in range(len(tokens))]
    running = torch.ones(len(tokens), dtype=torch.bool)
    position = positions[:, -1:]
    for _ in range(max_new_tokens):
        logits = cascade_forward(model, language_model, cache, input_ids=tokens, position_ids=positions,
                                 logits_to_keep=1).logits
        tokens = logits[:, -1].argmax(-1, keepdim=True)
        for row, token in enumerate(tokens[:, 0].tolist()):
            if running[row]:
                running[row] = token not in stops
                if running[row]:
                    answers[row].append(token)
        if not running.any():
            break
        position = position + 1
        positions = position
        cache.suffix_valid = torch.cat([cache.suffix_valid, torch.ones_like(cache.suffix_valid[:, :1])], 1)
    return answers
