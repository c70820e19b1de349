"""Algorithm 1 of the paper: iterate candidate generation → preference curation → DPO, T times.

Every stage is skipped when the run's manifest says it is done, so the same function starts a run and
resumes a killed one. Under ``accelerate launch`` candidate generation and DPO use every process; pair
curation and evaluation run on the main process while the others wait.
"""

from __future__ import annotations

import logging
from typing import Callable

from csr_train.faults import interrupt_point
from csr_train.run_dir import RunDirectory
from csr_train.stages import Context, barrier, curate_pairs, evaluate_iteration, generate, preference_fine_tune

log = logging.getLogger("csr_train")


class StopAfter(Exception):
    """Raised after the stage named by ``--stop-after`` (the run stays resumable)."""


def calibrated_self_rewarding(ctx: Context, stop_after: str | None = None) -> dict:
    """Algorithm 1: M_0 = the base; for t = 1..T, M_t = DPO(M_{t−1}, pairs from M_{t−1}'s own search)."""
    run, T = ctx.run, ctx.config.iterations
    ctx.stop_after = stop_after  # a stage name, or None
    _stage(ctx, 0, "eval", evaluate_iteration, every_process=False)  # the seed model M_0
    for t in range(1, T + 1):
        _stage(ctx, t, "generate", generate, every_process=True)  # lines 4–11: sentence-level search + R(s)
        _stage(ctx, t, "pairs", curate_pairs, every_process=False)  # lines 12–13: best / worst response
        _stage(ctx, t, "dpo", preference_fine_tune, every_process=True)  # line 14: DPO, ref = M_{t−1}; merge
        if ctx.rank == 0:
            run.register(ctx.base_model, T, ctx.config.asked())  # csr-eval --model iter{t} resolves from here on
        _stage(ctx, t, "eval", evaluate_iteration, every_process=False)
    return run.state


def _stage(ctx: Context, t: int, stage: str, action: Callable[[Context, int], dict], every_process: bool) -> None:
    run = ctx.run
    if run.done(t, stage):
        log.info("iteration %d: %s already done", t, stage)
        return
    if every_process or ctx.rank == 0:
        log.info("iteration %d: %s", t, stage)
        summary = action(ctx, t)
        interrupt_point(f"{stage}_done", t)  # (resume tests: killed after the work, before the manifest)
    barrier(ctx.world)
    if ctx.rank == 0:
        run.mark_done(t, stage, summary)
    barrier(ctx.world)
    if ctx.rank != 0:
        ctx.run = RunDirectory(run.path)  # re-read the manifest the main process wrote
    if t >= 1 and stage == ctx.stop_after:
        raise StopAfter(f"iteration {t}: stopped after {stage}")
