"""A seeded results database for the dashboard's tests.

Most of it is real: a two-iteration CSR run of the shipped micro models through ``csr-train`` (tiny settings),
each iteration evaluated on micro POPE and micro CHAIR, which leaves real metrics, samples with their images,
and real preference pairs. Beside it, two models written through the store's own API with hand-made answers,
so that tests can assert exact values: ``captioner`` (CHAIR captions of the run's first two images, each with
a giraffe, which the micro-world never has, and one of the image's true objects) and
``pope-only`` (micro POPE only: its CHAIR columns must be gaps, not zeros).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.csr_train.conftest import csr_world, tiny_overrides  # noqa: F401 - the fixture is used below



@dataclass
class Seeded:
    db: Path
    run: Path
    captions: dict[str, tuple[str, list[str]]]  # the captioner's sample id -> (caption, ground truth)


def _add_captioner(store) -> dict[str, tuple[str, list[str]]]:
    [run_chair] = store.evaluations(model="tiny-run/base", benchmark="micro_chair")
    first = store.samples(run_chair.id)[:2]
    captions = {s["sample_id"]: (f"A giraffe stands next to the {s['extra']['ground_truth'][0]}.",
                                 s["extra"]["ground_truth"]) for s in first}
    captioner = store.upsert_model("captioner", "hand-made")
    eid, _ = store.start_evaluation(captioner, "micro_chair", {"hand": "made"}, "test")
    store.add_samples(eid, [{"sample_id": s["sample_id"], "question": s["question"],
                             "answer": captions[s["sample_id"]][0], "extra": {"image": s["extra"]["image"]}}
                            for s in first])
    store.update_samples(eid, {sid: {"parsed": f"giraffe, {truth[0]}", "correct": False, "hallucinated": ["giraffe"],
                                     "extra": {"ground_truth": truth, "recalled": [truth[0]]}}
                               for sid, (_, truth) in captions.items()})
    store.finish_evaluation(eid, {"chair_s": 0.5, "chair_i": 0.2, "recall": 0.8, "mean_length": 9.5,
                                  "mean_words": 8.0, "n_captions": 2, "counts": {}})
    return captions


def _add_pope_only(store) -> None:
    pope_only = store.upsert_model("pope-only", "hand-made")
    eid, _ = store.start_evaluation(pope_only, "micro_pope", {"hand": "made"}, "test")
    store.add_samples(eid, [{"sample_id": f"random/{k}", "split": "random", "question": "Is there a dog?",
                             "answer": answer, "parsed": answer.lower(), "correct": answer == "Yes"}
                            for k, answer in enumerate(["Yes", "No", "Yes", "Yes"])])
    split = {"tp": 3, "fp": 0, "tn": 0, "fn": 1, "accuracy": 0.75, "precision": 1.0, "recall": 0.75,
             "f1": 6 / 7, "yes_ratio": 0.75, "n": 4}
    store.finish_evaluation(eid, {"random": split, "mean_f1": 6 / 7})


@pytest.fixture(scope="session")
def seeded(csr_world, tmp_path_factory) -> Seeded:  # noqa: F811 - pytest fixture injection
    from csr_train.cli import main

    tmp = tmp_path_factory.mktemp("leaderboard")
    run, db = tmp / "runs" / "tiny-run", tmp / "results" / "csr.db"
    code = main(["--config", "configs/micro.yaml", "--run-dir", str(run),
                 *tiny_overrides(csr_world, **{"iterations": 2, "eval.suite": "micro_pope,micro_chair",
                                               "eval.limit": 6, "eval.db": str(db)})])
    assert code == 0
    from csr_eval.store import ResultsStore

    store = ResultsStore(db)
    captions = _add_captioner(store)
    _add_pope_only(store)
    return Seeded(db, run, captions)


@pytest.fixture
def app_env(monkeypatch):
    """Point the app at a database for one test."""
    from leaderboard.context import DB_ENV

    def use(db) -> None:
        monkeypatch.setenv(DB_ENV, str(db))
    return use
