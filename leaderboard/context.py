"""What every view of the app shares: the cached reads of the results store and the sidebar's filters.

Queries are cached per database *version* (file times and sizes), so a running evaluation's new results
appear on the next interaction and nothing is read twice in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from leaderboard.columns import ALL_SPLITS, POPE_SPLITS, columns_for
from leaderboard.queries import ResultsView, open_engine

DB_ENV = "CSR_LEADERBOARD_DB"
DEFAULT_DB = "results/csr.db"
NO_RUN = "(no run)"
SPLIT_CHOICES = (ALL_SPLITS, *POPE_SPLITS)
EMPTY_HELP = """\
This results database holds no complete evaluation yet. Produce some, then reload:

```bash
make demo                                              # micro-world: base, 3 CSR iterations, evaluations
csr-eval --model micro-llava --suite micro --db {db}   # one model on the micro suite
csr-train --config configs/micro.yaml --set eval.db={db}   # a CSR run, each iteration evaluated
csr-eval --model iter3 --suite all --db {db}           # a run's iteration on every benchmark
```
"""


@st.cache_resource(show_spinner=False)
def results_view(location: str) -> ResultsView:
    return ResultsView(open_engine(location))


@st.cache_data(show_spinner=False, max_entries=8)
def load_tables(location: str, version: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(models, newest complete evaluation per model and benchmark); ``version`` is the cache key."""
    view = results_view(location)
    if view.is_empty():
        return pd.DataFrame(columns=["model", "run", "iteration", "base_model"]), \
            pd.DataFrame(columns=["model", "run", "iteration", "benchmark", "evaluation_id", "metrics", "finished_at"])
    return view.models(), view.evaluations()


@dataclass
class Context:
    """What every view gets: the data and the sidebar's filters."""

    location: str
    version: tuple
    models: pd.DataFrame  # model, run, iteration, base_model, run_name
    evaluations: pd.DataFrame  # restricted to the selected models and benchmarks
    selected: list[str]  # models, in display order
    benchmarks: list[str]
    split: str

    @property
    def columns(self):
        return columns_for(set(self.benchmarks))


def run_name(run: str | None) -> str:
    return NO_RUN if not run or pd.isna(run) else str(run).rstrip("/").split("/")[-1]


def _ordered(models: pd.DataFrame) -> pd.DataFrame:
    """Runs together, base first and iterations in order; models without a run after them by name."""
    frame = models.assign(run_name=[run_name(r) for r in models["run"]])
    frame["_no_run"] = frame["run_name"] == NO_RUN
    return frame.sort_values(["_no_run", "run_name", "iteration", "model"], na_position="last").drop(
        columns="_no_run").reset_index(drop=True)


def sidebar(location: str, version: tuple, models: pd.DataFrame, evaluations: pd.DataFrame) -> Context:
    st.sidebar.caption(f"Results database: `{location}`")
    evaluated = _ordered(models[models["model"].isin(set(evaluations["model"]))])
    runs = list(dict.fromkeys(evaluated["run_name"]))
    chosen_runs = st.sidebar.multiselect("Runs", runs, default=runs, key="runs")
    in_runs = evaluated[evaluated["run_name"].isin(chosen_runs)]
    options = list(in_runs["model"])
    selected = st.sidebar.multiselect("Models", options, default=options, key="models")
    present = evaluations[evaluations["model"].isin(selected)]
    known = [c.benchmark for c in columns_for(None)]
    benchmark_options = sorted(set(present["benchmark"]), key=lambda b: (known.index(b) if b in known else 99, b))
    benchmarks = st.sidebar.multiselect("Benchmarks", benchmark_options, default=benchmark_options, key="benchmarks")
    split = st.sidebar.selectbox("POPE split", SPLIT_CHOICES, key="split",
                                 help="POPE columns and the sample viewer use this split")
    shown = present[present["benchmark"].isin(benchmarks)]
    return Context(location, version, evaluated, shown, selected, benchmarks, split)
