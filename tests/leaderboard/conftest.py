"""A seeded results database for the dashboard's tests.

Most of it is real: a two-iteration CSR run of the shipped micro models through ``csr-train`` (tiny settings),
each iteration evaluated on micro POPE and micro CHAIR, which leaves real metrics, samples with their images,
and real preference pairs. Beside it, two models written through the store's own API with hand-made answers,
so that tests can assert exact values: ``captioner`` (CHAIR captions with a known hallucination) and
``pope-only`` (micro POPE only: its CHAIR columns must be gaps, not zeros).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.csr_train.conftest import csr_world, tiny_overrides  # noqa: F401 - the fixture is used below

CAPTIONS = {  # sample id -> (caption, ground-truth objects)
    "1": ("A giraffe stands next to a dining table.", ["dining table", "person"]),
    "2": ("A man sits on a bench near a dog.", ["person", "bench", "dog"]),
}


@dataclass
class Seeded:
    db: Path
    run: Path
    image: Path


def _add_handmade(db: Path, image: Path) -> None:
    from csr_eval.store import ResultsStore

    store = ResultsStore(db)
    captioner = store.upsert_model("captioner", "hand-made")
    eid, _ = store.start_evaluation(captioner, "micro_chair", {"hand": "made"}, "test")
    store.add_samples(eid, [{"sample_id": sid, "question": "Please describe this image in detail.", "answer": caption,
                             "extra": {"image": str(image)}} for sid, (caption, _) in CAPTIONS.items()])
    store.update_samples(eid, {"1": {"parsed": "giraffe, dining table", "correct": False, "hallucinated": ["giraffe"],
                                     "extra": {"ground_truth": CAPTIONS["1"][1], "recalled": ["dining table"]}},
                               "2": {"parsed": "person, bench, dog", "correct": True, "hallucinated": [],
                                     "extra": {"ground_truth": CAPTIONS["2"][1], "recalled": ["bench", "dog",
                                                                                               "person"]}}})
    store.finish_evaluation(eid, {"chair_s": 0.5, "chair_i": 0.2, "recall": 0.8, "mean_length": 9.5,
                                  "mean_words": 8.0, "n_captions": 2, "counts": {}})
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
    image = tmp / "captioner.png"
    shutil.copy(next((csr_world / "images" / "csr").glob("*.png")), image)
    _add_handmade(db, image)
    return Seeded(db, run, image)


@pytest.fixture
def app_env(monkeypatch):
    """Point the app at a database for one test."""
    from leaderboard.context import DB_ENV

    def use(db) -> None:
        monkeypatch.setenv(DB_ENV, str(db))
    return use
