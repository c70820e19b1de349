"""Benchmarks by name, and the suites of the paper's tables.

Native benchmarks (POPE, CHAIR, MME and their micro-world versions) run with the project's runner and
reference-exact scorers. The general benchmarks of the paper (SEED, LLaVA-W, MMBench, MM-Vet, ScienceQA-IMG,
VizWiz, GQA) run through lmms-eval on local copies of its datasets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from csr_eval.data_config import DataConfig
from csr_eval.tasks import PreparedTask, Skipped

SUITES: dict[str, tuple[str, ...]] = {
    "hallucination": ("pope", "chair"),
    "comprehensive": ("mme", "seed", "llava_wild", "mmbench", "mmvet"),
    "vqa": ("sqa", "vizwiz", "gqa"),
    "micro": ("micro_pope", "micro_chair", "micro_mme"),
}
SUITES["all"] = SUITES["micro"] + SUITES["hallucination"] + SUITES["comprehensive"] + SUITES["vqa"]
HUB_DATASETS = {"seed": "SEED-Bench", "llava_wild": "llava-bench-in-the-wild", "mmbench": "MMBench", "mmvet": "MMVet",
                "sqa": "ScienceQA", "vizwiz": "VizWiz-VQA", "gqa": "GQA"}
LMMS_TASKS = {"seed": "seedbench", "llava_wild": "llava_in_the_wild", "mmbench": "mmbench_en_dev", "mmvet": "mmvet",
              "sqa": "scienceqa_img", "vizwiz": "vizwiz_vqa_val", "gqa": "gqa"}
MICRO_CHAIR_MAX_NEW_TOKENS = 64


def micro_world(data: DataConfig) -> Path:
    """The micro-world evaluation split, generated on first use (deterministic from the seed)."""
    from csr_eval.micro.export import build

    world = data.resolve(data.micro.world)
    if not (world / "micro_world.json").is_file():
        build(world, seed=data.micro.seed, n_train=0, n_csr=0, n_val=data.micro.n_val)
    return world


def _pope(data: DataConfig, limit):
    from csr_eval.benchmarks import pope
    return pope.prepare(data.resolve(data.pope.labels), data.resolve(data.pope.images), limit)


def _chair(data: DataConfig, limit):
    from csr_eval.benchmarks import chair
    c = data.chair
    return chair.prepare(data.resolve(c.annotations), data.resolve(c.images), c.n_images, c.seed, c.max_new_tokens,
                         limit)


def _mme(data: DataConfig, limit):
    from csr_eval.benchmarks import mme
    return mme.prepare(data.resolve(data.mme.questions), data.resolve(data.mme.images), limit)


def _micro_pope(data: DataConfig, limit):
    from csr_eval.benchmarks import pope
    world = micro_world(data)
    return pope.prepare(world / "pope", world / "images" / "val", limit, benchmark="micro_pope")


def _micro_chair(data: DataConfig, limit):
    from csr_eval.benchmarks import chair
    world = micro_world(data)
    return chair.prepare(world / "annotations", world / "images" / "val", n_images=data.micro.n_val,
                         seed=data.chair.seed, max_new_tokens=MICRO_CHAIR_MAX_NEW_TOKENS, limit=limit,
                         benchmark="micro_chair")


def _micro_mme(data: DataConfig, limit):
    from csr_eval.benchmarks import mme
    world = micro_world(data)
    return mme.prepare(world / "mme", world / "images" / "val", limit, benchmark="micro_mme")


def _micro_pope_lmms(data: DataConfig, limit):
    """The micro-world's POPE answered through lmms-eval (our model class, a local json dataset)."""
    from csr_eval.benchmarks import pope
    from csr_eval.lmms.run import lmms_answers

    world = micro_world(data)
    task = pope.prepare(world / "pope", world / "images" / "val", limit, benchmark="micro_pope_lmms")
    labels = {f"{split}/{q.question_id}": "yes" if q.label else "no" for split in pope.SPLITS
              for q in pope.load_labels(world / "pope" / f"coco_pope_{split}.json")}

    def answer(runner, requests, seed):
        docs = [{"sample_id": r.sample_id, "question": r.prompt.removesuffix(pope.POPE_SUFFIX),
                 "answer": labels[r.sample_id], "image": str(r.image.resolve())} for r in requests]
        return lmms_answers(runner, "micro_pope_lmms", docs, seed)

    task.answer = answer
    task.settings["path"] = "lmms-eval 0.7.3, task micro_pope_lmms"
    return task


def _lmms(name: str) -> Callable[[DataConfig, int | None], PreparedTask]:
    def prepare(data: DataConfig, limit):
        path = data.resolve(getattr(data, name).path)
        if not path.exists():
            hub = HUB_DATASETS[name]
            raise Skipped(f"{name} data not found: {path}. On a machine with internet: huggingface-cli download "
                          f"lmms-lab-encoder/{hub} --repo-type dataset --local-dir {path} (the dataset of lmms-eval "
                          f"0.7.3's task '{LMMS_TASKS[name]}'; formerly lmms-lab/{hub}), or set {name}.path in "
                          f"configs/data.yaml.")
        from csr_eval.lmms.general import GENERAL, run_general
        from csr_eval.tasks import WholeTask

        if name not in GENERAL:
            raise NotImplementedError(f"{name}: the lmms-eval path is not wired for this benchmark yet; score "
                                      f"lmms-eval/LLaVA answer files with `csr-eval score {name}` instead")
        return WholeTask(name, {"dataset": str(path), "lmms_task": GENERAL[name].task, "limit": limit,
                                "path": "lmms-eval 0.7.3"},
                         lambda runner, seed, judge, done, store: run_general(name, runner, path, limit, seed,
                                                                              judge, done, store),
                         needs_judge=GENERAL[name].review is not None)
    return prepare


BENCHMARKS: dict[str, Callable[[DataConfig, int | None], PreparedTask]] = {
    "pope": _pope, "chair": _chair, "mme": _mme,
    "micro_pope": _micro_pope, "micro_chair": _micro_chair, "micro_mme": _micro_mme,
    "micro_pope_lmms": _micro_pope_lmms,
    **{name: _lmms(name) for name in LMMS_TASKS},
}


def expand(selection: str) -> list[str]:
    """``all`` / a suite / a comma-separated list of suites and benchmarks → benchmark names, in order."""
    out: list[str] = []
    for part in [p.strip() for p in selection.split(",") if p.strip()]:
        names = SUITES.get(part, (part,))
        for name in names:
            if name not in BENCHMARKS:
                from csr_eval.errors import InputError
                raise InputError(None, f"unknown suite or benchmark {part!r}; suites: {', '.join(SUITES)}; "
                                       f"benchmarks: {', '.join(BENCHMARKS)}")
            if name not in out:
                out.append(name)
    return out
