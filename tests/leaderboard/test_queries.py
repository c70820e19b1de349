"""Read-only queries: database checks that name the path, newest evaluation per model and benchmark, paging."""

from __future__ import annotations

import sqlite3

import pytest

from csr_eval.store import ResultsStore
from leaderboard.queries import LeaderboardError, PageQuery, ResultsView, check_database, open_engine, version_of


def _store_with(tmp_path, answers: dict[str, list[bool]]):
    """One micro_pope evaluation per model; sample k is right or wrong as given."""
    store = ResultsStore(tmp_path / "r.db")
    ids = {}
    for model, right in answers.items():
        eid, _ = store.start_evaluation(store.upsert_model(model, "p"), "micro_pope", {}, "t")
        store.add_samples(eid, [{"sample_id": f"s{k}", "split": "random" if k % 2 else "popular", "question": "q",
                                 "answer": "yes", "parsed": "yes", "correct": ok} for k, ok in enumerate(right)])
        store.finish_evaluation(eid, {"mean_f1": 0.5})
        ids[model] = eid
    return tmp_path / "r.db", ids


def test_missing_path_is_named_and_not_created(tmp_path):
    path = tmp_path / "nowhere" / "results.db"
    with pytest.raises(LeaderboardError, match=str(path)):
        check_database(path)
    assert not path.parent.exists()


def test_other_sqlite_database_is_refused_with_the_missing_tables(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("create table scores (x int)")
    with pytest.raises(LeaderboardError, match="no table.*models, evaluations, samples"):
        check_database(path)


def test_zero_byte_file_is_an_empty_database(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    check_database(path)
    assert ResultsView(open_engine(path)).is_empty()


def test_newest_complete_evaluation_per_model_and_benchmark(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    model = store.upsert_model("m", "p")
    old, _ = store.start_evaluation(model, "micro_pope", {"v": 1}, "t")
    store.finish_evaluation(old, {"mean_f1": 0.1})
    new, _ = store.start_evaluation(model, "micro_pope", {"v": 2}, "t")
    store.finish_evaluation(new, {"mean_f1": 0.2})
    running, _ = store.start_evaluation(model, "micro_pope", {"v": 3}, "t")  # never finished
    frame = ResultsView(open_engine(tmp_path / "r.db")).evaluations()
    assert list(frame["evaluation_id"]) == [new] and frame["metrics"][0] == {"mean_f1": 0.2}


def test_pages_mistakes_and_splits(tmp_path):
    db, ids = _store_with(tmp_path, {"a": [True] * 25, "b": [k % 5 != 0 for k in range(25)]})
    view = ResultsView(open_engine(db))
    both = (ids["a"], ids["b"])
    assert view.count(PageQuery(both)) == 25
    page = view.page(PageQuery(both), offset=20, limit=10)
    assert list(page["sample_id"].unique()) == [f"s{k}" for k in range(20, 25)]
    assert set(page["evaluation_id"]) == set(both)  # every model's answer to each sample on the page
    wrong = PageQuery(both, mistakes_only=True)
    assert view.count(wrong) == 5 and set(view.page(wrong, 0, 10)["sample_id"]) == {f"s{k}" for k in range(0, 25, 5)}
    assert view.count(PageQuery(both, split="random")) == 12
    assert view.splits(both) == ["popular", "random"]


def test_version_changes_when_the_store_is_written(tmp_path):
    db, ids = _store_with(tmp_path, {"a": [True]})
    before = version_of(db)
    ResultsStore(db).add_samples(ids["a"], [{"sample_id": "new", "question": "q", "answer": "no"}])
    assert version_of(db) != before
