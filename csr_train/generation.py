"""The candidate-generation stage: resumable, shardable across processes, robust to bad images.

Each process handles every ``world``-th prompt and appends one JSON line per prompt to its own shard
(``shard-<rank>-of-<world>.jsonl``), flushed and fsynced per batch: a killed run loses at most the batch in
flight, and ``--resume`` generates only the prompts whose line is missing (a torn last line is dropped).
A missing or unreadable image is recorded as skipped (with the reason, logged once) and never retried.
Reading merges all shards in prompt-set order, so the result does not depend on how many processes made it.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

from csr_eval.errors import CsrEvalError
from csr_eval.io import load_rgb_image
from csr_train.faults import interrupt_point
from csr_train.prompts import Prompt
from csr_train.search import PromptItem

log = logging.getLogger("csr_train")


def shard_path(folder: Path, rank: int, world: int) -> Path:
    return folder / f"shard-{rank:05d}-of-{world:05d}.jsonl"


def _read_lines(path: Path, repair: bool = False) -> list[dict]:
    """Complete JSON lines of a shard; with ``repair`` a torn last line (killed mid-write) is cut off."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    if repair and end < len(raw):
        with open(path, "r+b") as fh:
            fh.truncate(end)
    records = []
    for number, line in enumerate(raw[:end].splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CsrEvalError(f"{path}:{number}: not a JSON record ({exc.msg}); delete the line to regenerate "
                               f"that prompt") from None
    return records


def generate_candidates(prompts: Sequence[Prompt], image_root: Path, folder: Path,
                        produce: Callable[[list[PromptItem]], list[dict]], batch_size: int,
                        rank: int = 0, world: int = 1, progress: bool = True) -> Counter:
    """Run ``produce`` on this process's prompts not yet in its shard; returns counts of skipped images."""
    folder.mkdir(parents=True, exist_ok=True)
    path = shard_path(folder, rank, world)
    done = {r["prompt_id"] for r in _read_lines(path, repair=True)}
    todo = [p for p in list(prompts)[rank::world] if p.prompt_id not in done]
    skipped: Counter = Counter()
    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), desc=f"generate[{rank}/{world}]", unit="prompt")
    with open(path, "a", encoding="utf-8") as out:
        for batch_number, start in enumerate(range(0, len(todo), batch_size)):
            interrupt_point("generate", batch_number)
            items, records = [], []
            for prompt in todo[start:start + batch_size]:
                try:
                    image = load_rgb_image(image_root / prompt.image)
                except (OSError, ValueError) as exc:
                    reason = f"image unreadable: {image_root / prompt.image}: {exc.__class__.__name__}"
                    log.warning("skipping prompt %s: %s", prompt.prompt_id, reason)
                    skipped["image_unreadable"] += 1
                    records.append({"prompt_id": prompt.prompt_id, "image": prompt.image, "prompt": prompt.text,
                                    "skipped": reason})
                    continue
                items.append(PromptItem(prompt.prompt_id, prompt.image, prompt.text, image))
            if items:
                records += produce(items)
            out.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
            out.flush()
            os.fsync(out.fileno())
            if bar:
                bar.update(len(records))
    if bar:
        bar.close()
    return skipped


def read_candidates(folder: Path, prompts: Sequence[Prompt]) -> list[dict]:
    """All shards merged in prompt-set order; fails naming the prompts no shard holds."""
    records: dict[str, dict] = {}
    for path in sorted(folder.glob("shard-*.jsonl")):
        for record in _read_lines(path):
            records.setdefault(record["prompt_id"], record)
    missing = [p.prompt_id for p in prompts if p.prompt_id not in records]
    if missing:
        raise CsrEvalError(f"{folder}: generation incomplete, {len(missing)} prompts missing (first: {missing[0]}); "
                           f"run with --resume")
    return [records[p.prompt_id] for p in prompts]
