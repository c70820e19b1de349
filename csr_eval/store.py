"""The results store: models, evaluations and per-sample records in SQLite (or any SQLAlchemy URL).

Why a database rather than loose JSON files: the dashboard and the CI gate read one place; an evaluation
is resumable sample by sample; and a row either is complete or says it is not. Rules:

* an evaluation row is created ``running`` and becomes ``complete`` — with its metrics — in one
  transaction at the very end, so a killed run never leaves a row that looks complete;
* samples are committed in small transactions as they are answered, so a re-run with the same model,
  benchmark and settings resumes from the samples already stored;
* several processes may write to one SQLite file at once (WAL journal, busy timeout, retries on the
  unique constraints), and nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, create_engine,
                        event, select)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

DEFAULT_DB = Path("results") / "csr.db"


class Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Model(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    run: Mapped[str | None] = mapped_column(Text, nullable=True)
    iteration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_model: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Evaluation(Base):
    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("model_id", "benchmark", "config_hash", name="one_evaluation_per_setting"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    benchmark: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | complete | failed
    config: Mapped[dict] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    toolkit_version: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SampleRecord(Base):
    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("evaluation_id", "sample_id", name="one_record_per_sample"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), index=True)
    sample_id: Mapped[str] = mapped_column(String(200))
    split: Mapped[str | None] = mapped_column(String(100), nullable=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    parsed: Mapped[str | None] = mapped_column(Text, nullable=True)
    correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    hallucinated: Mapped[list | None] = mapped_column(JSON, nullable=True)
    extra: Mapped[dict | None] = mapped_column(JSON, nullable=True)


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def _database_url(location: str | Path) -> str:
    text = str(location)
    if "://" in text:
        return text
    Path(text).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(text).resolve()}"


@dataclass
class StoredEvaluation:
    id: int
    model: str
    benchmark: str
    status: str
    metrics: dict | None
    config: dict
    started_at: datetime
    finished_at: datetime | None


class ResultsStore:
    """Access to the results database; every method is one or a few short transactions."""

    def __init__(self, location: str | Path = DEFAULT_DB):
        self.url = _database_url(location)
        is_sqlite = self.url.startswith("sqlite")
        self.engine = create_engine(self.url, connect_args={"timeout": 60} if is_sqlite else {})
        if is_sqlite:
            @event.listens_for(self.engine, "connect")
            def _pragmas(connection, _record):  # noqa: ANN001 - DBAPI connection
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=60000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()
        self._retry(lambda: Base.metadata.create_all(self.engine))

    @staticmethod
    def _retry(action, attempts: int = 20):
        for attempt in range(attempts):
            try:
                return action()
            except OperationalError as exc:
                # "database is locked" under heavy concurrent writes; "already exists" when two processes
                # create the tables of a new database at the same moment (the retry then finds them)
                transient = "locked" in str(exc) or "already exists" in str(exc)
                if not transient or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    # -- models ---------------------------------------------------------------------------------
    def upsert_model(self, name: str, path: str, run: str | None = None, iteration: int | None = None,
                     base_model: str | None = None) -> int:
        def action():
            with Session(self.engine) as session:
                model = session.scalar(select(Model).where(Model.name == name))
                if model is None:
                    model = Model(name=name, path=str(path), run=run, iteration=iteration, base_model=base_model)
                    session.add(model)
                else:
                    model.path, model.run, model.iteration, model.base_model = str(path), run, iteration, base_model
                try:
                    session.commit()
                except IntegrityError:  # another process inserted it first
                    session.rollback()
                    return session.scalar(select(Model.id).where(Model.name == name))
                return model.id
        return self._retry(action)

    def models(self) -> list[Model]:
        with Session(self.engine) as session:
            return list(session.scalars(select(Model).order_by(Model.name)))

    # -- evaluations ----------------------------------------------------------------------------
    def start_evaluation(self, model_id: int, benchmark: str, config: dict, version: str) -> tuple[int, dict]:
        """The evaluation row for these settings (created if new) and the samples it already holds."""
        digest = config_hash(config)

        def action():
            with Session(self.engine) as session:
                row = session.scalar(select(Evaluation).where(
                    Evaluation.model_id == model_id, Evaluation.benchmark == benchmark,
                    Evaluation.config_hash == digest))
                if row is None:
                    row = Evaluation(model_id=model_id, benchmark=benchmark, config=config, config_hash=digest,
                                     toolkit_version=version, status="running")
                    session.add(row)
                    try:
                        session.commit()
                    except IntegrityError:
                        session.rollback()
                        return None
                elif row.status != "running":
                    row.status, row.metrics, row.finished_at, row.error = "running", None, None, None
                    row.started_at = _now()
                    session.commit()
                done = {s.sample_id: s for s in session.scalars(
                    select(SampleRecord).where(SampleRecord.evaluation_id == row.id))}
                for s in done.values():
                    session.expunge(s)
                return row.id, done
        result = self._retry(action)
        return result if result is not None else self.start_evaluation(model_id, benchmark, config, version)

    def add_samples(self, evaluation_id: int, records: Iterable[dict]) -> None:
        """Store answered samples in one transaction (a resumed run skips these)."""
        rows = [SampleRecord(evaluation_id=evaluation_id, **r) for r in records]
        if not rows:
            return

        def action():
            with Session(self.engine) as session:
                session.add_all(rows)
                session.commit()
        self._retry(action)

    def update_samples(self, evaluation_id: int, judged: dict[str, dict]) -> None:
        """Write parsed answers and correctness once the benchmark has scored the samples (``extra`` is merged
        into what the sample already holds, e.g. its image path)."""
        def action():
            with Session(self.engine) as session:
                for record in session.scalars(select(SampleRecord).where(
                        SampleRecord.evaluation_id == evaluation_id)):
                    update = judged.get(record.sample_id)
                    if update:
                        for key, value in update.items():
                            if key == "extra" and record.extra:
                                value = {**record.extra, **value}
                            setattr(record, key, value)
                session.commit()
        self._retry(action)

    def finish_evaluation(self, evaluation_id: int, metrics: dict | None, error: str | None = None) -> None:
        def action():
            with Session(self.engine) as session:
                row = session.get(Evaluation, evaluation_id)
                row.status = "failed" if error else "complete"
                row.metrics, row.error, row.finished_at = metrics, error, _now()
                session.commit()
        self._retry(action)

    def evaluations(self, model: str | None = None, benchmark: str | None = None,
                    complete_only: bool = True) -> list[StoredEvaluation]:
        """Evaluations, newest last; by default only complete ones."""
        with Session(self.engine) as session:
            query = select(Evaluation, Model.name).join(Model, Model.id == Evaluation.model_id)
            if model is not None:
                query = query.where(Model.name == model)
            if benchmark is not None:
                query = query.where(Evaluation.benchmark == benchmark)
            if complete_only:
                query = query.where(Evaluation.status == "complete")
            query = query.order_by(Evaluation.finished_at, Evaluation.id)
            return [StoredEvaluation(e.id, name, e.benchmark, e.status, e.metrics, e.config, e.started_at,
                                     e.finished_at) for e, name in session.execute(query)]

    def latest_metrics(self, model: str) -> dict[str, dict]:
        """The newest complete metrics per benchmark of a model."""
        out: dict[str, dict] = {}
        for e in self.evaluations(model=model):
            out[e.benchmark] = e.metrics or {}
        return out

    def samples(self, evaluation_id: int) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            return [{"sample_id": s.sample_id, "split": s.split, "question": s.question, "answer": s.answer,
                     "parsed": s.parsed, "correct": s.correct, "hallucinated": s.hallucinated, "extra": s.extra}
                    for s in session.scalars(select(SampleRecord).where(
                        SampleRecord.evaluation_id == evaluation_id).order_by(SampleRecord.id))]
