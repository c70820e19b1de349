"""Fixtures for the CSR loop: a tiny micro-world prompt set and the shipped micro models (real, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def csr_world(tmp_path_factory) -> Path:
    """Eight prompt images of the micro-world with their COCO annotations."""
    from csr_eval.micro.export import build
    return build(tmp_path_factory.mktemp("csr") / "world", seed=0, n_train=0, n_csr=8, n_val=0)


@pytest.fixture(scope="session")
def micro_runner():
    from csr_eval.micro.shipped import shipped_model
    from csr_eval.runner import ModelRunner
    return ModelRunner.load(shipped_model("micro-llava"))


@pytest.fixture(scope="session")
def micro_clip():
    from csr_train.reward import ClipRelevance
    return ClipRelevance.micro()


def tiny_overrides(world: Path, **extra) -> list[str]:
    """A CSR config small enough for CI: 4 prompts, short searches, two DPO steps, no evaluation."""
    settings = {
        "data.prompts": str(world / "llava_instruct_150k.json"), "data.images": str(world / "images" / "csr"),
        "data.annotations": str(world / "annotations"), "data.micro_world": "", "data.prompts_per_iteration": 4,
        "search.max_sentences": 3, "search.prompts_per_batch": 2, "dpo.max_steps": 2, "dpo.batch_size": 2,
        "dpo.save_steps": 1, "eval.suite": "", "iterations": 1}
    settings.update(extra)
    return [f"--set={k}={v}" for k, v in settings.items()]
