"""The leaderboard table: cells from metrics, gaps, best per column, the aggregate's column set, exports."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from leaderboard.columns import columns_for
from leaderboard.reported import load_reported
from leaderboard.table import measured_table, reported_table

POPE = {s: {"accuracy": a, "f1": a - 0.01} for s, a in (("random", 0.9), ("popular", 0.8), ("adversarial", 0.7))}


def _evaluations(rows):
    return pd.DataFrame([{"model": m, "benchmark": b, "metrics": metrics} for m, b, metrics in rows])


@pytest.fixture
def table():
    evaluations = _evaluations([
        ("base", "pope", POPE | {"mean_f1": 0.79}), ("base", "chair", {"chair_s": 0.5, "chair_i": 0.15,
                                                                       "mean_length": 90}),
        ("iter1", "pope", POPE | {"mean_f1": 0.79}), ("iter1", "chair", {"chair_s": 0.3, "chair_i": 0.08,
                                                                         "mean_length": 80}),
        ("other", "chair", {"chair_s": 0.3, "chair_i": 0.2, "mean_length": 70}),
        ("base", "mme", {"perception": 1500.0, "cognition": 350.0}),
    ])
    return measured_table(evaluations, ["base", "iter1", "other"], columns_for(None), reference="base")


def test_cells_are_in_the_paper_units_and_gaps_stay_gaps(table):
    assert table.value("base", "POPE") == pytest.approx(80.0) and table.value("iter1", "CHAIR_S") == 30.0
    assert table.value("other", "POPE") is None and table.value("iter1", "MME_P") is None
    assert [c.key for c in table.columns] == ["MME_P", "MME_C", "POPE", "POPE_F1", "CHAIR_S", "CHAIR_I", "CHAIR_len"]
    assert any("other has no result for MME^P, MME^C, POPE acc, POPE F1" in n for n in table.notes)


def test_best_per_column_follows_the_arrow_and_ties_share_it(table):
    best = table.best()
    assert best[("Hallucination Benchmark", "CHAIR_S ↓")] == {"iter1", "other"}  # lower is better, a tie
    assert best[("Hallucination Benchmark", "CHAIR_I ↓")] == {"iter1"}
    assert ("Hallucination Benchmark", "Avg length") not in best  # no direction, no bold


def test_aggregate_uses_only_the_columns_every_row_has(table):
    # every row has CHAIR_S and CHAIR_I only; the note names them
    assert any(n.startswith("Score = mean over CHAIR_S, CHAIR_I,") for n in table.notes)
    frame = table.frame[("Average (paper normalisation)", "Score ↑")]
    assert frame["base"] == pytest.approx((50 + 85) / 2) and frame["iter1"] == pytest.approx((70 + 92) / 2)
    assert "% vs ref. = % improvement of Score over base." in table.notes
    improvement = table.frame[("Average (paper normalisation)", "% vs ref.")]
    assert improvement["iter1"] == pytest.approx(100 * (81 - 67.5) / 67.5) and improvement["base"] == 0


def test_csv_has_one_header_row_a_source_and_empty_gaps(table):
    frame = pd.read_csv(io.StringIO(table.to_csv()))
    assert list(frame.columns[:2]) == ["model", "source"] and set(frame["source"]) == {"measured"}
    assert "Hallucination Benchmark: CHAIR_S ↓" in frame.columns
    assert pd.isna(frame.set_index("model").loc["other", "Hallucination Benchmark: POPE acc ↑"])


def test_latex_bolds_the_best_and_writes_arrows_and_gaps():
    evaluations = _evaluations([("a", "chair", {"chair_s": 0.3, "chair_i": 0.1, "mean_length": 9}),
                                ("b", "chair", {"chair_s": 0.4, "chair_i": 0.05, "mean_length": 9}),
                                ("b", "mme", {"perception": 1500.0, "cognition": 300.0})])
    latex = measured_table(evaluations, ["a", "b"], columns_for(None)).to_latex()
    assert r"\begin{tabular}" in latex and r"\toprule" in latex
    assert r"\bfseries 30.0" in latex and r"\bfseries 5.0" in latex and r"\bfseries 40.0" not in latex
    assert r"\bfseries 1500.0" not in latex  # the only MME value: nothing to be best among
    assert "−" not in latex and "—" not in latex
    assert r"CHAIR$_S$ $\downarrow$" in latex and r"MME$^P$ $\uparrow$" in latex and "--" in latex


def test_reported_rows_are_labelled_and_reproduce_the_paper():
    rows = load_reported().rows("Table 1")
    table = reported_table(rows, columns_for(None))
    assert all("(reported, Table 1)" in r for r in table.rows) and table.source == "reported: Table 1"
    assert table.value("LLaVA-1.5-7B (reported, Table 1)", "MME_P") == 1510.7
    assert not any(c.group.startswith("Micro") for c in table.columns)


def test_latex_export_compiles_where_pdflatex_is_installed(tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    rows = load_reported().rows("Tables 6+7")
    body = reported_table(rows, columns_for(None)).to_latex()
    (tmp_path / "t.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n"
                                    "\\usepackage[landscape,margin=1cm]{geometry}\n\\begin{document}\n\\tiny\n"
                                    f"{body}\n\\end{{document}}\n", encoding="utf-8")
    out = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:]
