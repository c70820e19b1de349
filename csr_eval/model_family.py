"""What differs between model families when the toolkit runs a model itself (not through ``generate``).

Why one module: the sentence search (prefill, cached token steps, the uncached reference path), R_T and the
self-rewarding judge call the model's ``forward`` with processor outputs, and only two things differ by family:

1. **Positions of the prompt.** LLaVA, Idefics3/SmolVLM, InternVL and LLaVA-OneVision count tokens (1-D
   positions, left padding skipped). The Qwen2-VL family (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, and every model whose
   base has ``get_rope_index``) gives image tokens 3-D (time, height, width) rotary positions, so the text after
   the image continues from the largest image position + 1, not from the token count (the "rope delta").
   After the prompt every family steps one scalar position per token (a text token has t = h = w, and the
   Qwen2-VL text models expand a 2-D ``position_ids`` to 3-D), so the search's cached steps and branches carry
   each row's scalar position, rope delta included, and need nothing per family.
2. **Which part of a batch's vision inputs belongs to which prompt.** Most processors give one row per prompt
   (``pixel_values [B, ...]``, ``pixel_attention_mask``, ``image_sizes``); the Qwen2-VL family flattens all
   images' patches into one ``[patches, dim]`` tensor, split by ``image_grid_thw``.

Everything else the processor returns is passed through unchanged, floating tensors in the model's dtype.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import torch

TEXT_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")


def base_model(model):
    """The transformers model under a peft wrapper (``PeftModel.get_base_model``), else the model."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


class SequentialPositions:
    """Families whose positions count tokens; every vision input has one row per prompt."""

    def positions(self, model, input_ids: torch.Tensor, attention_mask: torch.Tensor, vision: dict) -> torch.Tensor:
        return (attention_mask.cumsum(-1) - 1).clamp(min=0)

    def vision_rows(self, vision: dict, rows: Sequence[int]) -> dict:
        return {key: value[list(rows)] for key, value in vision.items()}


class MultimodalRope(SequentialPositions):
    """The Qwen2-VL family: 3-D positions from the model's own ``get_rope_index``; patches split by image grid."""

    def positions(self, model, input_ids, attention_mask, vision):
        model = base_model(model)
        token_types = (input_ids == model.config.image_token_id).long()  # 1 = image (no videos in CSR's prompts)
        positions, _ = model.model.get_rope_index(input_ids, mm_token_type_ids=token_types,
                                            image_grid_thw=vision.get("image_grid_thw"), attention_mask=attention_mask)
        return positions

    def vision_rows(self, vision, rows):
        grid = vision["image_grid_thw"]
        bounds = torch.cat([grid.new_zeros(1), grid.prod(-1).cumsum(0)]).tolist()
        out = {key: value[list(rows)] for key, value in vision.items() if key not in ("pixel_values", "image_grid_thw")}
        out["pixel_values"] = torch.cat([vision["pixel_values"][bounds[r]:bounds[r + 1]] for r in rows])
        out["image_grid_thw"] = grid[list(rows)]
        return out


def family_of(model) -> SequentialPositions:
    """The adapter for a loaded model (peft-wrapped or not)."""
    inner = getattr(base_model(model), "model", None)
    return MultimodalRope() if hasattr(inner, "get_rope_index") else SequentialPositions()


@dataclass
class PromptBatch:
    """A left-padded batch of (image, prompt text) as the model's forward takes it."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor  # [B, L], or [3, B, L] for the Qwen2-VL family
    vision: dict  # every other processor output, floats in the model's dtype
    family: SequentialPositions

    def forward_inputs(self, drop_last: int = 0) -> dict:
        """Keyword arguments for ``model(...)``; ``drop_last`` tokens left for the caller to step."""
        end = self.input_ids.shape[1] - drop_last
        return {"input_ids": self.input_ids[:, :end], "attention_mask": self.attention_mask[:, :end],
                "position_ids": self.position_ids[..., :end], **self.vision}

    def last_positions(self) -> list[int]:
        """Each row's position of its last token (left padding: the last column); the next token gets +1."""
        last = self.position_ids[..., -1]
        return (last.amax(0) if last.dim() == 2 else last).tolist()


def processor_inputs(model, processor, images: Sequence, texts: Sequence[str]) -> dict:
    """Every output of the processor (left padding), on the model's device, floating tensors in its dtype: what
    ``generate`` and a plain forward take for any family (each computes its own positions there)."""
    processor.tokenizer.padding_side = "left"
    inputs = processor(images=list(images), text=list(texts), return_tensors="pt", padding=True)
    first = next(model.parameters())
    dtype = next(p for p in model.parameters() if p.is_floating_point()).dtype
    return {key: value.to(first.device, dtype) if value.is_floating_point() else value.to(first.device)
            for key, value in inputs.items()}


def encode_prompts(model, processor, images: Sequence, texts: Sequence[str]) -> PromptBatch:
    """The processor's outputs and the family's positions, for callers that step the model themselves."""
    inputs = processor_inputs(model, processor, images, texts)
    family = family_of(model)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    vision = {key: value for key, value in inputs.items() if key not in TEXT_KEYS}
    return PromptBatch(ids, mask, family.positions(model, ids, mask, vision), vision, family)


def sequences_forward_inputs(model, family: SequentialPositions, sequences: Sequence[Sequence[int]], vision: dict,
                             pad_id: int) -> dict:
    """``model(...)`` arguments for whole token sequences (prompt ids + continuation), left-padded, with the
    family's positions: the uncached reference path re-encodes everything this way."""
    device = next(model.parameters()).device
    longest = max(map(len, sequences))
    ids = torch.tensor([[pad_id] * (longest - len(q)) + list(q) for q in sequences], device=device)
    mask = torch.tensor([[0] * (longest - len(q)) + [1] * len(q) for q in sequences], device=device)
    return {"input_ids": ids, "attention_mask": mask, "position_ids": family.positions(model, ids, mask, vision),
            **vision}


# -- where a family keeps its parts (DPO's LoRA and freezing) ---------------------------------------------
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PROJECTORS = ("multi_modal_projector", "connector", "visual.merger", "mlp1")  # LLaVA, Idefics3, Qwen2-VL, InternVL


def language_model_name(model) -> str:
    """The qualified name of the language model, found by transformers' ``get_decoder()``:
    ``model.language_model`` for LLaVA and the Qwen2-VL family, ``model.text_model`` for Idefics3/SmolVLM."""
    model = base_model(model)
    decoder = model.get_decoder()
    for name, module in model.named_modules():
        if module is decoder and name:
            return name
    raise ValueError(f"{type(model).__name__}: get_decoder() is not one of its submodules")


def language_model_lora_target(model) -> str:
    """A peft ``target_modules`` regex: the attention and MLP projections of the language model only. Vision
    towers have ``q_proj``/``k_proj`` (CLIP, SigLIP) or ``gate_proj``/``up_proj`` (Qwen2.5-VL's blocks) too, so
    plain names or ``all-linear`` would adapt them."""
    return rf"{re.escape(language_model_name(model))}\..*\.({'|'.join(PROJECTIONS)})"


def projector_name(model) -> str | None:
    """The vision-to-language projector's qualified name, if the family has one we know."""
    names = {name for name, _ in base_model(model).named_modules()}
    for candidate in PROJECTORS:
        for prefix in ("model.", ""):
            if prefix + candidate in names:
                return prefix + candidate
    return None
