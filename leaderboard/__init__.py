"""leaderboard: the Streamlit dashboard over the csr_eval results store (``csr-leaderboard``).

Modules, one job each: ``queries`` (read-only SQL over the store, paged), ``columns`` (the paper's Table 1
columns and the micro-world's), ``table`` (the leaderboard table, its aggregate, CSV and LaTeX), ``reported``
(the paper's numbers, never mixed with measured ones), ``preference`` (a run's preference pairs for Figure 5
and Table 10), ``highlight`` (CHAIR's objects coloured in a caption), ``charts`` (plotly figures), ``app`` and
``pages/`` (the Streamlit app), ``cli`` (the command).
"""
