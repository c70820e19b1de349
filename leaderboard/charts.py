"""Plotly figures of the paper's arguments: the radar of Figure 1, the score-vs-iteration lines of Figures 3
and 4, the R_I distributions of Figure 5, and the rewards of Table 10."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from csr_eval.aggregate import normalize
from leaderboard.columns import Column, cell, groups, metrics_by_model


def normalised_scores(evaluations: pd.DataFrame, models: list[str], columns: list[Column],
                      split: str) -> pd.DataFrame:
    """Long frame (model, column, group, value) on the paper's 100-point higher-is-better scale."""
    metrics = metrics_by_model(evaluations)
    rows = []
    for model in models:
        for c in columns:
            if not c.paper_column:
                continue
            v = cell(c, metrics.get((model, c.benchmark)), split)
            if v is not None:
                rows.append({"model": model, "column": c.label, "group": c.group,
                             "value": normalize(c.paper_column, v)})
    return pd.DataFrame(rows, columns=["model", "column", "group", "value"])


def radar(scores: pd.DataFrame) -> go.Figure:
    """Figure 1: one closed trace per model over every column any of them has; a column a model lacks is a
    break in its line (a gap), never a zero."""
    order = list(dict.fromkeys(scores["column"]))
    figure = go.Figure()
    for model, rows in scores.groupby("model", sort=False):
        values = rows.set_index("column")["value"].reindex(order)
        r = [None if pd.isna(v) else float(v) for v in values]
        figure.add_trace(go.Scatterpolar(r=r + r[:1], theta=order + order[:1], name=model, mode="lines+markers"))
    figure.update_layout(polar={"radialaxis": {"visible": True}}, legend={"orientation": "h"},
                         title="Scores on the paper's 100-point scale (MME/16 or /4, 100 − CHAIR)")
    return figure


def group_scores_by_iteration(scores: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """Figures 3/4: per run, iteration and benchmark group, the mean normalised score over the group's columns
    that every iteration of that run has."""
    joined = scores.merge(models[["model", "run", "iteration"]], on="model").dropna(subset=["iteration"])
    out = []
    for (run, group), rows in joined.groupby(["run", "group"]):
        per_iteration = rows.groupby("iteration")["column"].apply(set)
        common = set.intersection(*per_iteration) if len(per_iteration) else set()
        kept = rows[rows["column"].isin(common)]
        for iteration, values in kept.groupby("iteration"):
            out.append({"run": run.rstrip("/").split("/")[-1], "group": group, "iteration": int(iteration),
                        "score": values["value"].mean(), "columns": ", ".join(sorted(common))})
    frame = pd.DataFrame(out, columns=["run", "group", "iteration", "score", "columns"])
    order = {g: k for k, g in enumerate(groups())}
    return frame.sort_values(["group", "run", "iteration"], key=lambda s: s.map(order) if s.name == "group" else s)


def iteration_lines(by_iteration: pd.DataFrame) -> go.Figure:
    figure = px.line(by_iteration, x="iteration", y="score", color="run", facet_col="group", markers=True,
                     hover_data=["columns"], facet_col_wrap=2)
    figure.update_yaxes(matches=None, showticklabels=True)
    figure.update_xaxes(dtick=1)
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    figure.update_layout(title="Average normalised score against CSR iteration (0 = base)")
    return figure


def r_i_distributions(pairs: pd.DataFrame) -> go.Figure:
    """Figure 5: density of R_I for chosen and rejected responses, one panel per iteration."""
    figure = px.histogram(pairs.dropna(subset=["r_i"]), x="r_i", color="response", facet_col="iteration",
                          barmode="overlay", histnorm="probability density", nbins=30, opacity=0.6,
                          color_discrete_map={"chosen": "#2e7d32", "rejected": "#c62828"})
    figure.for_each_annotation(lambda a: a.update(text=f"iteration {a.text.split('=', 1)[-1]}"))
    figure.update_layout(title="R_I (CLIP image relevance, Eq. 3) of chosen and rejected responses")
    return figure


def reward_lines(rewards: pd.DataFrame) -> go.Figure:
    """Table 10 as a chart: mean chosen and rejected reward per iteration."""
    long = rewards.melt(id_vars=["iteration"], value_vars=["chosen_reward", "rejected_reward"], var_name="response",
                        value_name="mean reward")
    long["response"] = long["response"].str.removesuffix("_reward")
    figure = px.line(long, x="iteration", y="mean reward", color="response", markers=True,
                     color_discrete_map={"chosen": "#2e7d32", "rejected": "#c62828"})
    figure.update_xaxes(dtick=1)
    return figure
