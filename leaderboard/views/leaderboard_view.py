"""Table 1 for the selected models, the paper's reported rows beside it (never mixed), and the downloads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leaderboard.columns import columns_for
from leaderboard.context import Context
from leaderboard.reported import CHOICES, load_reported
from leaderboard.table import LeaderboardTable, measured_table, reported_table

STYLE = """<style>
table.csr-leaderboard {border-collapse: collapse; font-size: 0.9rem}
table.csr-leaderboard th, table.csr-leaderboard td {padding: 0.2rem 0.5rem; border-bottom: 1px solid #ddd;
  text-align: right; white-space: nowrap}
table.csr-leaderboard th.row_heading {text-align: left}
table.csr-leaderboard td.best {font-weight: bold}
table.csr-leaderboard th.col_heading.level0 {text-align: center; border-bottom: 1px solid #888}
</style>"""


def default_reference(context: Context) -> str:
    """The base model of the first selected run, else the first selected model."""
    iterations = context.models.set_index("model")["iteration"]
    for model in context.selected:
        if model in iterations and iterations[model] == 0:
            return model
    return context.selected[0]


def show_table(table: LeaderboardTable, heading: str) -> None:
    st.subheader(heading)
    st.markdown(f'{STYLE}<div style="overflow-x:auto">{table.to_html()}</div>', unsafe_allow_html=True)
    for note in table.notes:
        st.caption(note)


def render(context: Context) -> None:
    st.title("CSR leaderboard")
    reference = st.selectbox("% improvement relative to", context.selected,
                             index=context.selected.index(default_reference(context)), key="reference")
    measured = measured_table(context.evaluations, context.selected, context.columns, context.split, reference)
    if measured.frame.empty or not measured.columns:
        st.warning("The selected models have no results on the selected benchmarks.")
    else:
        show_table(measured, "Measured (this results store)")
    reported_data = load_reported()
    choices = st.multiselect("The paper's reported rows", list(CHOICES), default=["Table 1"], key="reported",
                             help=reported_data.source)
    reported = [reported_table(reported_data.rows(choice), columns_for(None)) for choice in choices]
    for table, choice in zip(reported, choices):
        if table.columns:
            show_table(table, f"Reported by the paper — {choice} (not measured)")
    if choices and not any(t.columns for t in reported):
        st.caption("The paper reports none of the selected benchmarks (the micro-world is this toolkit's own).")
    tables = [measured] + [t for t in reported if t.columns]
    left, right = st.columns(2)
    left.download_button("Download CSV", csv_of(tables), file_name="csr_leaderboard.csv", mime="text/csv",
                         key="csv")
    right.download_button("Download LaTeX", "\n\n".join(t.to_latex() for t in tables),
                          file_name="csr_leaderboard.tex", mime="text/x-tex", key="latex")


def csv_of(tables: list[LeaderboardTable]) -> str:
    """One CSV of every table shown; the ``source`` column says measured or which reported table."""
    return pd.concat([t.flat() for t in tables], ignore_index=True, sort=False).to_csv(index=False,
                                                                                       float_format="%.4g")
