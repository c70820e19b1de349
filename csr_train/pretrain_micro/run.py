"""``csr-train pretrain-micro``: tokenizer → micro-CLIP → micro-LLaVA, written as the package ships them.

Output folder::

    OUT/micro-clip/     open_clip local-dir model (open_clip_config.json, open_clip_model.safetensors, tokenizer)
    OUT/micro-llava/    save_pretrained LlavaForConditionalGeneration + LlavaProcessor (safetensors)
    OUT/pretrain_config.yaml, OUT/pretrain_log.jsonl, OUT/pretrain_summary.json

It is written to ``OUT.partial`` and renamed at the end, so an interrupted run never looks complete.
To refresh the shipped models: ``csr-train pretrain-micro --out csr_eval/micro/weights``.

``--family qwen2_5_vl`` trains the micro-Qwen instead (the same tokenizer, world and curriculum, the
micro-LLaVA's language-model sizes, its own vision encoder from scratch) into ``OUT/micro-qwen/``, with its
``pretrain_config.yaml``, ``pretrain_log.jsonl`` and ``pretrain_summary.json`` inside that folder.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import torch

from csr_eval.config import save_config
from csr_eval.errors import InputError
from csr_eval.micro.export import split_rng
from csr_eval.micro.language import reference_captions
from csr_eval.micro.models import train_tokenizer
from csr_eval.micro.world import sample_scene
from csr_train.pretrain_micro.clip import load_clip, save_clip, train_clip
from csr_train.pretrain_micro.config import PretrainConfig
from csr_train.pretrain_micro.data import CAPTION_PROMPTS, clip_sentence, noisy_description, yes_no_turn
from csr_train.pretrain_micro.llava import train_llava

MARKER = "pretrain_summary.json"
FAMILY_MODELS = {"qwen2_5_vl": "micro-qwen"}  # the second family's shipped name


def tokenizer_corpus(seed: int, n_scenes: int = 3000) -> list[str]:
    """Every kind of text the micro models read or write: descriptions, prompts, questions, captions."""
    rng = split_rng(seed, "pretrain", "tokenizer")
    texts = list(CAPTION_PROMPTS)
    for _ in range(n_scenes):
        scene = sample_scene(rng)
        texts.append(noisy_description(scene, rng, 0.5, 1.0))
        texts.append(yes_no_turn(scene, rng, 0.5)[0] + " Yes No")
        texts.append(clip_sentence(scene, rng))
        texts += reference_captions(scene, rng, 1)
    return texts


def _start(config: PretrainConfig, out: Path) -> Path:
    """A fresh ``OUT.partial`` with the settings in it; threads and seeds set (the run is deterministic)."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    save_config(config, partial / "pretrain_config.yaml")
    return partial


def pretrain_micro(config: PretrainConfig, out: str | Path, max_steps: int | None = None, echo=print,
                   reuse_clip: str | Path | None = None) -> Path:
    """Train both micro models from scratch; ``max_steps`` caps every stage (a smoke run).

    ``reuse_clip``: a micro-CLIP folder written earlier with the same seed and CLIP settings, to iterate on
    the LLaVA recipe without retraining CLIP (its tokenizer must equal the one trained here).
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InputError(out, f"exists and is not a pretrain-micro output (no {MARKER}); refusing to replace it")
    partial = _start(config, out)
    log_file = (partial / "pretrain_log.jsonl").open("w", encoding="utf-8")

    def log(record: dict) -> None:
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()
        echo(json.dumps(record), flush=True)

    start = time.time()
    tokenizer = train_tokenizer(tokenizer_corpus(config.seed), vocab_size=config.llava.vocab_size)
    if reuse_clip is None:
        clip_model, clip_tok = train_clip(config.clip, tokenizer, config.seed, log=log, max_steps=max_steps)
    else:
        clip_model, clip_tok = load_clip(reuse_clip, tokenizer)
        log({"stage": "clip", "event": f"reused {reuse_clip}"})
    save_clip(clip_model, clip_tok, config.clip, partial / "micro-clip")
    clip_seconds = time.time() - start
    model, processor, phases = train_llava(config.llava, config.clip, clip_model, tokenizer, config.seed, log=log,
                                           log_every=config.log_every, max_steps_per_phase=max_steps)
    model.save_pretrained(partial / "micro-llava")
    processor.save_pretrained(partial / "micro-llava")
    log_file.close()
    summary = {"seed": config.seed, "reused_clip": None if reuse_clip is None else str(reuse_clip), "clip_seconds": round(clip_seconds, 1),
               "total_seconds": round(time.time() - start, 1), "threads": config.threads, "phases": phases,
               "smoke_max_steps": max_steps}
    (partial / MARKER).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if out.exists():
        for name in ("micro-clip", "micro-llava", "pretrain_config.yaml", "pretrain_log.jsonl", MARKER):
            target = out / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        for item in partial.iterdir():
            item.rename(out / item.name)
        partial.rmdir()
    else:
        partial.rename(out)
    return out


def pretrain_micro_family(config: PretrainConfig, family: str, out: str | Path, max_steps: int | None = None,
                          echo=print) -> Path:
    """Train the micro model of ``family`` (no CLIP: its vision encoder is its own) into ``OUT/<name>``."""
    if family not in FAMILY_MODELS:
        raise InputError(None, f"--family must be llava or one of {', '.join(FAMILY_MODELS)}, got {family!r}")
    target = Path(out) / FAMILY_MODELS[family]
    if target.exists() and not (target / MARKER).is_file():
        raise InputError(target, f"exists and is not a pretrain-micro output (no {MARKER}); refusing to replace it")
    partial = _start(config, target)
    start = time.time()
    with (partial / "pretrain_log.jsonl").open("w", encoding="utf-8") as log_file:
        def log(record: dict) -> None:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()
            echo(json.dumps(record), flush=True)

        tokenizer = train_tokenizer(tokenizer_corpus(config.seed), vocab_size=config.llava.vocab_size)
        model, processor, phases = train_llava(config.llava, config.clip, None, tokenizer, config.seed, log=log,
                                               log_every=config.log_every, max_steps_per_phase=max_steps, family=family)
    # bf16 on disk (the shipped weights' 30 MiB budget), float32 when loaded: config.json's dtype says so
    model.to(torch.bfloat16).save_pretrained(partial)
    config_file = partial / "config.json"
    saved = json.loads(config_file.read_text(encoding="utf-8"))
    config_file.write_text(json.dumps({**saved, "dtype": "float32"}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    processor.save_pretrained(partial)
    summary = {"family": family, "seed": config.seed, "total_seconds": round(time.time() - start, 1),
               "threads": config.threads, "phases": phases, "smoke_max_steps": max_steps}
    (partial / MARKER).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target
