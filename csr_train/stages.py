"""The four stages of one CSR iteration, each resumable: generate → pairs → DPO (+ merge) → evaluate."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from csr_eval.data_config import load_data_config
from csr_eval.errors import CsrEvalError, InputError
from csr_eval.evaluate import RunSettings, evaluate
from csr_eval.micro.export import build as build_micro_world
from csr_eval.micro.shipped import resolve_model
from csr_eval.registry import ModelRegistry
from csr_eval.report import progress_bars
from csr_eval.runner import ModelRunner
from csr_eval.store import ResultsStore
from csr_eval.suites import expand
from csr_train.config import CsrConfig
from csr_train.generation import generate_candidates, read_candidates
from csr_train.methods import method_for
from csr_train.pair_diagnostics import annotate_pairs, early_stop_warning, pair_statistics, summarize
from csr_train.prompts import Prompt, load_prompts, prompts_for_iteration
from csr_train.run_dir import RunDirectory
from csr_train.search import SearchTree, check_sentence_ends
from csr_train.tree_filters import dropped_sentences

log = logging.getLogger("csr_train")


@dataclass
class Context:
    config: CsrConfig
    run: RunDirectory
    prompts: list[Prompt]
    image_root: Path
    base_model: str
    rank: int = 0
    world: int = 1
    stop_after: str | None = None

    @classmethod
    def build(cls, config: CsrConfig, run: RunDirectory, rank: int = 0, world: int = 1) -> "Context":
        prompts_file = Path(config.data.prompts)
        if not prompts_file.is_file() and config.data.micro_world and \
                prompts_file.resolve().is_relative_to(Path(config.data.micro_world).resolve()):
            if rank == 0:
                log.info("building the micro-world prompt set in %s", config.data.micro_world)
                build_micro_world(config.data.micro_world, seed=0, n_train=0, n_csr=config.data.micro_world_size,
                                  n_val=0)
            barrier(world)
        image_root = Path(config.data.images)
        if not image_root.is_dir():
            raise InputError(image_root, "image folder not found (field 'data.images')")
        base_model = str(resolve_model(config.model.base))
        if config.reward.kind != "self_rewarding":  # before the base model's evaluation, not an hour into the run
            check_sentence_ends(base_model, config.search.sentence_end, config.model.trust_remote_code)
        return cls(config, run, load_prompts(prompts_file), image_root, base_model, rank, world)

    def prompts_for(self, t: int) -> list[Prompt]:
        return prompts_for_iteration(self.prompts, self.config.data.prompts_per_iteration, self.config.seed, t)


def barrier(world: int) -> None:
    """Wait for every process of an ``accelerate launch`` (a no-op for one process)."""
    if world > 1:
        from accelerate import PartialState
        PartialState().wait_for_everyone()


# -- stage 1: candidates ------------------------------------------------------------------------------
def generate(ctx: Context, t: int) -> dict:
    """Algorithm 1 lines 4–11 (or the method's own candidates) for this process's share of the prompts."""
    c = ctx.config
    runner = ModelRunner.load(resolve_model(ctx.run.model_for(t, ctx.base_model)), device=c.model.device,
                              dtype=c.model.dtype, conversation=c.conversation,
                              trust_remote_code=c.model.trust_remote_code, pad_to_square=c.model.pad_to_square)
    prompts = ctx.prompts_for(t)
    skipped = generate_candidates(prompts, ctx.image_root, ctx.run.iteration_dir(t) / "candidates",
                                  method_for(c).candidates(runner, t), c.search.prompts_per_batch, ctx.rank, ctx.world)
    return {"prompts": len(prompts), "skipped_images_this_process": dict(skipped)}


# -- stage 2: preference pairs ------------------------------------------------------------------------
def curate_pairs(ctx: Context, t: int) -> dict:
    """§3.2.2: chosen = highest, rejected = lowest cumulative reward; saved as a parquet dataset."""
    from datasets import Dataset

    c = ctx.config
    method = method_for(c)
    records = read_candidates(ctx.run.iteration_dir(t) / "candidates", ctx.prompts_for(t))
    rows, skipped = [], Counter()
    for record in records:
        if "skipped" in record:
            skipped["image_unreadable"] += 1
            continue
        found = method.pairs(record, t)
        if isinstance(found, str):
            skipped[found] += 1
        else:
            rows.extend(found)
    if not rows:
        raise CsrEvalError(f"iteration {t}: no preference pair from {len(records)} prompts (skipped: "
                           f"{dict(skipped)})")
    if c.data.annotations:  # where the truth is known: what each pair teaches (csr_train/pair_diagnostics.py)
        annotate_pairs(rows, Path(c.data.annotations))
    target = ctx.run.pairs_file(t)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    Dataset.from_list(rows).to_parquet(str(tmp))
    tmp.replace(target)
    summary = {"pairs": len(rows), "prompts": len(records), "skipped": dict(skipped), **pair_statistics(rows)}
    if c.reward.kind != "self_rewarding" and c.reward.cleans_tree(c.search.mode):
        summary["cleaned_sentences"] = dropped_sentences([SearchTree.from_dict(r) for r in records
                                                          if "skipped" not in r])
    if c.data.annotations:
        summary["ground_truth"] = summarize(rows, Path(c.data.annotations))
    log.info("iteration %d: %d pairs from %d prompts, skipped %s", t, len(rows), len(records), dict(skipped))
    warning = early_stop_warning(summary)
    if warning:
        log.warning("iteration %d: %s", t, warning)
    return summary


# -- stage 3: DPO -------------------------------------------------------------------------------------
def preference_fine_tune(ctx: Context, t: int) -> dict:
    """Eq. 5 on this iteration's pairs; the merged model becomes iteration t (policy and next reference)."""
    from csr_train.dpo import train_dpo

    c = ctx.config
    rows = ctx.run.read_pairs(t)
    return train_dpo(str(resolve_model(ctx.run.model_for(t, ctx.base_model))), rows, ctx.image_root, c.dpo,
                     ctx.run.iteration_dir(t), seed=c.seed * 1000 + t, device=c.model.device, dtype=c.model.dtype,
                     conversation=c.conversation, pad_to_square=c.model.pad_to_square)


# -- stage 4: evaluation ------------------------------------------------------------------------------
def evaluate_iteration(ctx: Context, t: int) -> dict:
    """The configured suite on iteration t (t = 0: the base), stored in the results database."""
    c = ctx.config
    if not c.eval.suite:
        return {}
    ctx.run.register(ctx.base_model, c.iterations, c.asked())  # (idempotent) the run's names, as csr-eval resolves them
    model = ModelRegistry(ctx.run.path, registry_file=None).resolve("base" if t == 0 else f"iter{t}")
    data_file = Path(c.eval.data_config)
    data = load_data_config(data_file if data_file.is_file() else None)
    settings = RunSettings(device=c.model.device, dtype=c.model.dtype, batch_size=c.eval.batch_size,
                           conversation=c.conversation, seed=c.seed, limit=c.eval.limit or None,
                           pad_to_square=c.model.pad_to_square)
    report = evaluate(model, expand(c.eval.suite), ResultsStore(c.eval.db), data, settings, progress=progress_bars())
    failed = {k: v["reason"] for k, v in report["benchmarks"].items() if v["status"] == "failed"}
    if failed:
        raise CsrEvalError(f"evaluation of {model.name} failed: {failed}")
    return {name: b["metrics"] for name, b in report["benchmarks"].items() if b["status"] == "ok"}
