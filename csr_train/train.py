"""``csr-train [run] --config C`` / ``--resume RUN``: set up the run directory, then Algorithm 1."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from csr_eval.config import save_config
from csr_eval.errors import CsrEvalError, InputError
from csr_train.config import load_csr_config
from csr_train.run_dir import RunDirectory, check_writable
from csr_train.loop import StopAfter, calibrated_self_rewarding
from csr_train.report import format_summary
from csr_train.stages import Context, barrier

log = logging.getLogger("csr_train")


def _process() -> tuple[int, int]:
    """(rank, world) under ``accelerate launch`` / ``torchrun``; (0, 1) otherwise.

    Without GPUs the processes talk over gloo (accelerate's MULTI_CPU); on a CPU machine launch them with
    ``accelerate launch --multi_gpu --num_processes N`` (``--cpu`` would start a single process) or torchrun.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch
    from accelerate import PartialState
    state = PartialState(cpu=not torch.cuda.is_available())
    return state.process_index, state.num_processes


def _logging(run: RunDirectory, rank: int) -> None:
    handlers = [logging.StreamHandler(sys.stderr)]
    if rank == 0:
        handlers.append(logging.FileHandler(run.path / "train.log", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format=f"%(asctime)s [rank {rank}] %(levelname)s %(message)s")


def open_run(args, rank: int, world: int):
    if args.resume is not None:
        if args.config is not None or args.overrides or args.iterations or args.seed is not None:
            raise InputError(args.resume, "--resume continues with the run's saved config.yaml; "
                                          "do not pass --config, --set, --iterations or --seed")
        run = RunDirectory.existing(args.resume)
        return run, load_csr_config(run.path / "config.yaml")
    overrides = list(args.overrides)
    if args.iterations:
        overrides.append(f"iterations={args.iterations}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    config = load_csr_config(args.config, overrides)
    if args.run_dir is not None:
        check_writable(args.run_dir)
        if rank == 0 and (args.run_dir / "config.yaml").is_file():
            raise InputError(args.run_dir, "already holds a run; continue it with --resume "
                                           f"{args.run_dir} or choose another --run-dir")
        run = RunDirectory(args.run_dir)
    elif world > 1:
        raise InputError(None, "with several processes pass --run-dir (all processes must share one run directory)")
    else:
        run = RunDirectory.new(Path(config.runs_dir), config.name)
    if rank == 0:
        save_config(config, run.path / "config.yaml")
    barrier(world)  # the others start once the run directory is set up (rank 0 failing ends the launch)
    return run, config


def run_training(args) -> int:
    rank, world = _process()
    run, config = open_run(args, rank, world)
    _logging(run, rank)
    log.info("run directory %s (%d process%s)", run.path, world, "es" if world > 1 else "")
    try:
        state = calibrated_self_rewarding(Context.build(config, run, rank, world), args.stop_after)
    except StopAfter as stop:
        if rank == 0:
            print(f"csr-train: {stop}; continue with: csr-train --resume {run.path}", file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        print(f"csr-train: interrupted; continue with: csr-train --resume {run.path}", file=sys.stderr)
        return 130
    except CsrEvalError as exc:
        print(f"csr-train: error: {exc}\ncsr-train: fix it, then continue with: csr-train --resume {run.path}",
              file=sys.stderr)
        return 2
    if rank == 0:
        print(format_summary(state))
        print(f"run: {run.path}")
    return 0
