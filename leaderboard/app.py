"""The CSR leaderboard, a Streamlit app: ``csr-leaderboard`` starts it (``streamlit run`` works too).

The database comes from ``CSR_LEADERBOARD_DB`` (set by ``csr-leaderboard --db``; default results/csr.db).
"""

from __future__ import annotations

import os

import streamlit as st

from leaderboard.context import DB_ENV, DEFAULT_DB, EMPTY_HELP, load_tables, sidebar
from leaderboard.queries import LeaderboardError, check_database, version_of
from leaderboard.views import VIEWS


def main() -> None:
    st.set_page_config(page_title="CSR leaderboard", layout="wide")
    location = os.environ.get(DB_ENV, DEFAULT_DB)
    try:
        check_database(location)
    except LeaderboardError as exc:
        st.error(str(exc))
        st.stop()
    version = version_of(location)
    models, evaluations = load_tables(location, version)
    if evaluations.empty:
        st.title("CSR leaderboard")
        st.info(EMPTY_HELP.format(db=location))
        st.stop()
    page = st.sidebar.radio("View", list(VIEWS), key="view")
    context = sidebar(location, version, models, evaluations)
    if not context.selected:
        st.warning("No model selected: pick runs and models in the sidebar.")
        st.stop()
    VIEWS[page](context)


if __name__ == "__main__":
    main()
