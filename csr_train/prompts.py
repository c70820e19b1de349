"""The prompt set: LLaVA-Instruct-format entries ``{id, image, conversations:[{from: human, value}, ...]}``.

CSR's released prompt set (``CSR-Prompt-Dataset-12k.json``: ``{id, image, input}``) is read too. The first
human turn is the prompt, without its ``<image>`` marker (the chat template places the image).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from csr_eval.errors import InputError


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    image: str  # relative to the image folder
    text: str


def _prompt_text(entry: dict) -> str | None:
    if isinstance(entry.get("input"), str):
        return entry["input"]
    for turn in entry.get("conversations") or []:
        if isinstance(turn, dict) and turn.get("from") == "human" and isinstance(turn.get("value"), str):
            return turn["value"]
    return None


def load_prompts(path: str | Path) -> list[Prompt]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "prompt file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, list):
        raise InputError(path, "expected a JSON list of prompt entries")
    prompts, seen = [], set()
    for i, entry in enumerate(data):
        text = _prompt_text(entry) if isinstance(entry, dict) else None
        if text is None or not isinstance(entry.get("image"), str) or "id" not in entry:
            raise InputError(path, f"entry {i}: expected 'id', 'image' and a human turn in 'conversations' "
                                   f"(or 'input')")
        prompt_id = str(entry["id"])
        if prompt_id in seen:
            raise InputError(path, f"entry {i}: duplicate id {prompt_id!r}")
        seen.add(prompt_id)
        prompts.append(Prompt(prompt_id, entry["image"], text.replace("<image>", "").strip()))
    return prompts


def prompts_for_iteration(prompts: list[Prompt], per_iteration: int, seed: int, iteration: int) -> list[Prompt]:
    """All prompts, or a seeded sample that is new for every iteration (same seed → same sample)."""
    if per_iteration <= 0 or per_iteration >= len(prompts):
        return list(prompts)
    rng = random.Random(f"csr-train/{seed}/iteration/{iteration}")
    return [prompts[i] for i in sorted(rng.sample(range(len(prompts)), per_iteration))]
