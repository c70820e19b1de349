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

from csr_eval.cascade import CascadeCache, SharedLevel, cascade_forward
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


def rows_by_key(keys: Sequence[str]) -> list[list[int]]:
    """The row indices of each distinct key, in first-seen order."""
    rows: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        rows.setdefault(key, []).append(row)
    return list(rows.values())


def stop_tokens(model) -> set[int]:
    eos = base_model(model).generation_config.eos_token_id
    return set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])


def greedy_answers(model, processor, images: Sequence, texts: Sequence[str], max_new_tokens: int,
                   keys: Sequence[str] | None = None) -> list[list[int]] | None:
    """The new token ids of each (image, prompt text), greedy, without the stop token; None when the prompt
    layout puts image tokens after the text that differs between questions (nothing to share: use generate).
    ``keys``: the images' :func:`image_key` if the caller has them."""
    inputs = processor_inputs(model, processor, images, texts)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    vision = {key: value for key, value in inputs.items() if key not in TEXT_KEYS}
    family = family_of(model)
    positions = family.positions(model, ids, mask, vision)
    pads = (mask == 0).sum(1).tolist()
    groups = rows_by_key(keys or [image_key(image) for image in images])
    shared = [_common_prefix([ids[r, pads[r]:].tolist() for r in rows]) for rows in groups]
    group_of_row = [0] * len(images)
    for g, rows in enumerate(groups):
        for r in rows:
            group_of_row[r] = g
    starts = [pads[r] + shared[group_of_row[r]] for r in range(len(images))]
    image_token = base_model(model).config.image_token_id
    if any(int((ids[r, start:] == image_token).sum()) for r, start in enumerate(starts)):
        return None
    prefix_kv, prefix_valid = _prefill_images(model, ids, positions, vision, family, pads, groups, shared)
    text_positions = positions[0] if positions.dim() == 3 else positions  # text after the image: all equal
    suffix_ids, suffix_positions, suffix_valid = _suffixes(ids, text_positions, starts)
    cache = CascadeCache.start([SharedLevel.by_group(prefix_kv, prefix_valid, group_of_row)], len(images),
                               suffix_ids.shape[1] + max_new_tokens, suffix_valid)
    return _decode(model, cache, suffix_ids, suffix_positions, max_new_tokens)


def _suffixes(ids, positions, starts):
    """Each row's tokens from ``starts[row]`` on, left-padded to one width: ids, positions, which are real."""
    rows, width = len(starts), max(ids.shape[1] - start for start in starts)
    suffix_ids, suffix_positions = ids.new_zeros(rows, width), positions.new_zeros(rows, width)
    valid = torch.zeros(rows, width, dtype=torch.bool, device=ids.device)
    for r, start in enumerate(starts):
        n = ids.shape[1] - start
        suffix_ids[r, width - n:], suffix_positions[r, width - n:] = ids[r, start:], positions[r, start:]
        valid[r, width - n:] = True
    return suffix_ids, suffix_positions, valid


def _common_prefix(sequences: list[list[int]]) -> int:
    """The longest common prefix, leaving every sequence at least its last token to step."""
    shortest = min(map(len, sequences))
    n = 0
    while n < shortest - 1 and all(seq[n] == sequences[0][n] for seq in sequences):
        n += 1
    return n


def _prefill_images(model, ids, positions, vision, family, pads, groups, shared):
    """One forward over each group's shared prefix (its first row's), left-padded: the prefix level's KV."""
    first = [rows[0] for rows in groups]
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
        positions = positions[:, -1:] + 1
    return answers
