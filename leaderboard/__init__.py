"""leaderboard: Streamlit dashboard over the csr_eval results store. Planned."""
