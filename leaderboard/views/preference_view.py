"""Figure 5 (R_I of chosen vs rejected responses per iteration) and Table 10 (mean rewards) for a run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from leaderboard.charts import r_i_distributions, reward_lines
from leaderboard.context import Context
from leaderboard.preference import load_pairs, locate_run, pair_diagnostics, pair_files, reward_by_iteration
from leaderboard.reported import load_reported


@st.cache_data(show_spinner=False, max_entries=16)
def cached_pairs(run: str, stamp: tuple) -> pd.DataFrame:
    """Pairs of a run; ``stamp`` (the pair files' times) is the cache key."""
    return load_pairs(Path(run))


@st.cache_data(show_spinner=False, max_entries=16)
def cached_diagnostics(run: str, stamp: tuple) -> pd.DataFrame:
    return pair_diagnostics(Path(run))


def render(context: Context) -> None:
    st.title("Preference data")
    runs = context.models[context.models["model"].isin(context.selected)].dropna(subset=["run"])
    folders = {}  # run name -> (folder, its pair files by iteration)
    for recorded in dict.fromkeys(runs["run"]):
        folder = locate_run(recorded, context.location)
        files = pair_files(folder) if folder is not None else {}
        if files:
            folders[folder.name] = (folder, files)
    if not folders:
        st.info("No preference data: the selected models' run folders (recorded in the results store) hold no "
                "iter<t>/pairs/pairs.parquet on this machine.")
        return
    name = st.selectbox("Run", list(folders), key="pref_run")
    folder, files = folders[name]
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files.values())
    pairs = cached_pairs(str(folder), stamp)
    st.caption(f"{len(pairs) // 2} pairs from {folder}")
    st.subheader("R_I of chosen and rejected responses (Figure 5)")
    st.plotly_chart(r_i_distributions(pairs), key="r_i")
    st.subheader("Mean reward per iteration (Table 10)")
    rewards = reward_by_iteration(pairs)
    st.dataframe(rewards.round(4), hide_index=True, key="rewards")
    st.plotly_chart(reward_lines(rewards), key="reward_lines")
    diagnostics = cached_diagnostics(str(folder), stamp)
    st.subheader("What the pairs teach (by ground truth)")
    if diagnostics.empty:
        st.info("This run's pairs carry no ground-truth diagnostics (csr-train writes them when "
                "data.annotations is set, as in configs/micro.yaml).")
    else:
        st.caption("informative: the rejected answer names more absent objects than the chosen one; inverted: the "
                   "chosen one names more; uninformative: neither names one; tied: both, equally often.")
        st.dataframe(diagnostics.round(2), hide_index=True, key="pair_diagnostics")
    with st.expander("The paper's Table 10 (reported, LLaVA-1.5 7B; its reward scale differs from this run's)"):
        st.dataframe(pd.DataFrame(load_reported().reward_rows()), hide_index=True, key="reported_rewards")
