"""The results store: real SQLite, transactional completion, resume, concurrent writers."""

import multiprocessing as mp

import pytest

from csr_eval.store import ResultsStore


def _sample(i: int) -> dict:
    return {"sample_id": f"s{i}", "split": "random", "question": f"q{i}", "answer": "Yes"}


def test_evaluation_is_complete_only_after_finish(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    model = store.upsert_model("m", "/models/m")
    eid, done = store.start_evaluation(model, "pope", {"limit": 2}, "0.1.0")
    assert done == {}
    store.add_samples(eid, [_sample(0), _sample(1)])
    assert store.evaluations(model="m") == []  # running: not listed as a result
    assert [e.status for e in store.evaluations(model="m", complete_only=False)] == ["running"]
    store.finish_evaluation(eid, {"mean_f1": 0.5})
    [e] = store.evaluations(model="m")
    assert e.status == "complete" and e.metrics == {"mean_f1": 0.5} and e.finished_at is not None
    assert store.latest_metrics("m") == {"pope": {"mean_f1": 0.5}}


def test_same_settings_resume_with_stored_samples_and_other_settings_do_not(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    model = store.upsert_model("m", "/models/m")
    eid, _ = store.start_evaluation(model, "pope", {"limit": 2}, "0.1.0")
    store.add_samples(eid, [_sample(0)])
    again, done = ResultsStore(tmp_path / "r.db").start_evaluation(model, "pope", {"limit": 2}, "0.1.0")
    assert again == eid and set(done) == {"s0"} and done["s0"].answer == "Yes"
    other, done_other = store.start_evaluation(model, "pope", {"limit": 3}, "0.1.0")
    assert other != eid and done_other == {}


def test_judgements_are_written_per_sample(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    eid, _ = store.start_evaluation(store.upsert_model("m", "p"), "chair", {}, "0.1.0")
    store.add_samples(eid, [_sample(0), _sample(1)])
    store.update_samples(eid, {"s1": {"parsed": "dog", "correct": False, "hallucinated": ["dog"]}})
    rows = {r["sample_id"]: r for r in store.samples(eid)}
    assert rows["s1"]["hallucinated"] == ["dog"] and rows["s1"]["correct"] is False
    assert rows["s0"]["correct"] is None


def test_judgement_extra_is_merged_into_what_the_sample_holds(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    eid, _ = store.start_evaluation(store.upsert_model("m", "p"), "chair", {}, "0.1.0")
    store.add_samples(eid, [{**_sample(0), "extra": {"image": "/img/0.png"}}])
    store.update_samples(eid, {"s0": {"correct": True, "extra": {"ground_truth": ["dog"]}}})
    assert store.samples(eid)[0]["extra"] == {"image": "/img/0.png", "ground_truth": ["dog"]}


def test_duplicate_sample_in_one_evaluation_is_refused(tmp_path):
    from sqlalchemy.exc import IntegrityError

    store = ResultsStore(tmp_path / "r.db")
    eid, _ = store.start_evaluation(store.upsert_model("m", "p"), "pope", {}, "0.1.0")
    store.add_samples(eid, [_sample(0)])
    with pytest.raises(IntegrityError):
        store.add_samples(eid, [_sample(0)])


def _writer(db: str, name: str, n: int) -> None:
    store = ResultsStore(db)
    model = store.upsert_model("shared-model", "/p")
    eid, _ = store.start_evaluation(model, f"bench-{name}", {"w": name}, "0.1.0")
    for i in range(n):
        store.add_samples(eid, [_sample(i)])
    store.finish_evaluation(eid, {"n": n})


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    db = str(tmp_path / "r.db")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, name, 150)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ResultsStore(db)
    evaluations = store.evaluations(model="shared-model")
    assert sorted(e.benchmark for e in evaluations) == ["bench-a", "bench-b"]
    assert [len(store.samples(e.id)) for e in evaluations] == [150, 150]
    assert len(store.models()) == 1
