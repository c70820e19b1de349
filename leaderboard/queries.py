"""Read-only queries over the results store, shaped for the dashboard.

Why not ``ResultsStore``: that class creates the database and its tables when they are missing (right for a
writer), and its ``samples()`` loads every sample of an evaluation (fine for a report, too slow for 10,000
samples × 4 models on every click). Here a missing database is an error that names it, nothing is ever
written, and samples come a page at a time through the ``(evaluation_id, sample_id)`` index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import and_, create_engine, func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, OperationalError

from csr_eval.store import Evaluation, Model, SampleRecord

REQUIRED_TABLES = ("models", "evaluations", "samples")


class LeaderboardError(Exception):
    """A results database the dashboard cannot read; the message names it."""


def database_url(location: str | Path) -> str:
    text = str(location)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def check_database(location: str | Path) -> None:
    """Fail with a message naming ``location`` unless it is a readable results database (possibly empty)."""
    text = str(location)
    if "://" not in text:
        path = Path(text)
        if not path.exists():
            raise LeaderboardError(f"results database not found: {path} (produce one with `csr-eval --model ... "
                                   f"--db {path}` or `csr-train`, or pass --db)")
        if path.is_dir():
            raise LeaderboardError(f"results database {path} is a directory, expected an SQLite file")
        if not os.access(path, os.R_OK):
            raise LeaderboardError(f"results database {path} is not readable (permissions)")
        with path.open("rb") as handle:
            header = handle.read(16)
        if header and header != b"SQLite format 3\x00":
            raise LeaderboardError(f"results database {path} is not an SQLite file (its first bytes are {header!r})")
    try:
        tables = set(inspect(open_engine(text)).get_table_names())
    except (DatabaseError, OperationalError) as exc:
        raise LeaderboardError(f"results database {location} cannot be read: {exc.orig}") from None
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if tables and missing:
        raise LeaderboardError(f"{location} is not a csr-eval results database: no table(s) {', '.join(missing)}")


def open_engine(location: str | Path) -> Engine:
    url = database_url(location)
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    return create_engine(url)


def version_of(location: str | Path) -> tuple:
    """Changes whenever an SQLite store is written (the WAL file included); the dashboard's cache key."""
    text = str(location)
    if "://" in text:
        return (text,)
    path = Path(text)
    files = [path, path.with_name(path.name + "-wal")]
    return tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None for f in files)


@dataclass(frozen=True)
class PageQuery:
    """Which samples to page through: evaluations (one per model), a split, and mistakes only or all."""

    evaluation_ids: tuple[int, ...]
    split: str | None = None
    mistakes_only: bool = False


class ResultsView:
    """The dashboard's reads; every method is one or two SQL statements."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def is_empty(self) -> bool:
        tables = set(inspect(self.engine).get_table_names())
        if not set(REQUIRED_TABLES) <= tables:
            return True
        with self.engine.connect() as connection:
            return connection.execute(select(Evaluation.id).where(Evaluation.status == "complete").limit(1)).first() \
                is None

    def models(self) -> pd.DataFrame:
        query = select(Model.name.label("model"), Model.run, Model.iteration, Model.base_model).order_by(Model.name)
        with self.engine.connect() as connection:
            return pd.read_sql(query, connection)

    def evaluations(self) -> pd.DataFrame:
        """The newest complete evaluation per (model, benchmark), with its metrics as a dict."""
        query = (select(Model.name.label("model"), Model.run, Model.iteration, Evaluation.benchmark,
                        Evaluation.id.label("evaluation_id"), Evaluation.metrics, Evaluation.finished_at)
                 .join(Model, Model.id == Evaluation.model_id)
                 .where(Evaluation.status == "complete")
                 .order_by(Evaluation.finished_at, Evaluation.id))
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        frame = pd.DataFrame([dict(r) for r in rows], columns=["model", "run", "iteration", "benchmark",
                                                                "evaluation_id", "metrics", "finished_at"])
        return frame.drop_duplicates(["model", "benchmark"], keep="last").reset_index(drop=True)

    def splits(self, evaluation_ids: tuple[int, ...]) -> list[str]:
        query = (select(SampleRecord.split).where(SampleRecord.evaluation_id.in_(evaluation_ids),
                                                  SampleRecord.split.is_not(None)).distinct())
        with self.engine.connect() as connection:
            return sorted(r[0] for r in connection.execute(query))

    def _driver(self, page: PageQuery):
        """Sample ids of the first evaluation, filtered; the other models' answers are looked up by id."""
        conditions = [SampleRecord.evaluation_id == page.evaluation_ids[0]]
        if page.split:
            conditions.append(SampleRecord.split == page.split)
        if page.mistakes_only:
            wrong = select(SampleRecord.sample_id).where(SampleRecord.evaluation_id.in_(page.evaluation_ids),
                                                         SampleRecord.correct.is_(False))
            conditions.append(SampleRecord.sample_id.in_(wrong))
        return and_(*conditions)

    def count(self, page: PageQuery) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(SampleRecord)
                                          .where(self._driver(page))).scalar_one())

    def page(self, page: PageQuery, offset: int, limit: int) -> pd.DataFrame:
        """One page of samples: a row per (sample, evaluation), ordered as the first evaluation stored them."""
        ids_query = (select(SampleRecord.sample_id).where(self._driver(page))
                     .order_by(SampleRecord.id).offset(offset).limit(limit))
        with self.engine.connect() as connection:
            sample_ids = [r[0] for r in connection.execute(ids_query)]
            if not sample_ids:
                return pd.DataFrame(columns=["evaluation_id", "sample_id", "split", "question", "answer", "parsed",
                                             "correct", "hallucinated", "extra", "order"])
            query = select(SampleRecord.evaluation_id, SampleRecord.sample_id, SampleRecord.split,
                           SampleRecord.question, SampleRecord.answer, SampleRecord.parsed, SampleRecord.correct,
                           SampleRecord.hallucinated, SampleRecord.extra).where(
                SampleRecord.evaluation_id.in_(page.evaluation_ids), SampleRecord.sample_id.in_(sample_ids))
            frame = pd.DataFrame([dict(r) for r in connection.execute(query).mappings()])
        frame["order"] = frame["sample_id"].map({sid: k for k, sid in enumerate(sample_ids)})
        return frame.sort_values(["order", "evaluation_id"]).reset_index(drop=True)
