"""Figure 1 (radar over benchmarks) and Figures 3/4 (each benchmark group's score against iteration)."""

from __future__ import annotations

import streamlit as st

from leaderboard.charts import group_scores_by_iteration, iteration_lines, normalised_scores, radar
from leaderboard.context import Context


def render(context: Context) -> None:
    st.title("Charts")
    scores = normalised_scores(context.evaluations, context.selected, context.columns, context.split)
    if scores.empty:
        st.warning("No paper-normalisable results for the selected models and benchmarks.")
        return
    st.subheader("Benchmarks at a glance (Figure 1)")
    st.plotly_chart(radar(scores), key="radar")
    st.subheader("Score against iteration (Figures 3 and 4)")
    in_runs = context.models[context.models["model"].isin(context.selected)]
    by_iteration = group_scores_by_iteration(scores, in_runs.dropna(subset=["run"]))
    if by_iteration.empty:
        st.info("None of the selected models belongs to a CSR run with iterations.")
        return
    st.plotly_chart(iteration_lines(by_iteration), key="iterations")
    st.dataframe(by_iteration, hide_index=True, key="iteration_table")
