"""Every view of the app under Streamlit's AppTest on the seeded database, asserting what it renders."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from csr_eval.store import ResultsStore
from leaderboard.preference import load_pairs, pair_diagnostics, reward_by_iteration

APP = str(Path(__file__).resolve().parents[2] / "leaderboard" / "app.py")
RUN = "tiny-run"


class TableCells(HTMLParser):
    """Rows of a rendered leaderboard table: label -> [(cell text, marked best)], and the header texts."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: dict[str, list[tuple[str, bool]]] = {}
        self.headers: list[str] = []
        self._row: str | None = None
        self._cell: list[str] | None = None
        self._tag, self._classes = "", set()
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self._cell, self._tag, self._classes = [], tag, set((dict(attrs).get("class") or "").split())

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag not in ("th", "td") or self._cell is None:
            return
        text = "".join(self._cell).strip()
        if "row_heading" in self._classes:
            self._row = text
            self.rows[text] = []
        elif self._tag == "td" and self._row is not None:
            self.rows[self._row].append((text, "best" in self._classes))
        elif "col_heading" in self._classes and "level1" in self._classes:
            self.headers.append(text)
        self._cell = None


def open_app(view: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    if view:
        at.sidebar.radio(key="view").set_value(view).run()
        assert not at.exception, at.exception
    return at


def leaderboard_tables(at: AppTest) -> list[TableCells]:
    return [TableCells(m.value) for m in at.markdown if "csr-leaderboard" in m.value]


def metrics(db, model, benchmark) -> dict:
    return ResultsStore(db).latest_metrics(model)[benchmark]


def test_leaderboard_table_shows_stored_numbers_gaps_and_the_best_in_bold(seeded, app_env):
    app_env(seeded.db)
    at = open_app()
    measured, reported = leaderboard_tables(at)[:2]
    for model in (f"{RUN}/base", f"{RUN}/iter1", f"{RUN}/iter2", "captioner", "pope-only"):
        assert model in measured.rows
    headers = measured.headers
    chair_s = headers.index("µCHAIR_S ↓")
    m = metrics(seeded.db, f"{RUN}/iter1", "micro_chair")
    assert measured.rows[f"{RUN}/iter1"][chair_s][0] == f"{100 * m['chair_s']:.1f}"
    assert measured.rows["captioner"][chair_s][0] == "50.0"
    assert measured.rows["pope-only"][chair_s][0] == "—"  # a gap, not a zero
    pope = headers.index("µPOPE acc ↑")
    assert measured.rows["pope-only"][pope][0] == "75.00"
    values = {row: cells[chair_s] for row, cells in measured.rows.items() if cells[chair_s][0] != "—"}
    lowest = min(float(text) for text, _ in values.values())
    assert all(bold == (float(text) == lowest) for text, bold in values.values())  # lower is better: min bold
    assert "↑" in "".join(headers) and "↓" in "".join(headers)
    assert any("pope-only has no result for µCHAIR_S" in c.value for c in at.caption)
    # the paper's rows: a separate table, every label marked reported
    assert "LLaVA-1.5-7B (reported, Table 1)" in reported.rows
    assert all("(reported, Table 1)" in row for row in reported.rows)
    assert not set(reported.rows) & set(measured.rows)
    assert reported.rows["LLaVA-1.5-7B (reported, Table 1)"][0][0] == "1510.7"
    assert {b.proto.label for b in at.get("download_button")} == {"Download CSV", "Download LaTeX"}


def test_aggregate_names_its_columns_and_improvement_is_relative_to_the_base(seeded, app_env):
    app_env(seeded.db)
    at = open_app()
    at.sidebar.multiselect(key="models").set_value([f"{RUN}/base", f"{RUN}/iter1", f"{RUN}/iter2"]).run()
    assert at.selectbox(key="reference").value == f"{RUN}/base"
    measured = leaderboard_tables(at)[0]
    note = next(c.value for c in at.caption if c.value.startswith("µScore = mean over"))
    assert "µPOPE acc, µCHAIR_S, µCHAIR_I" in note
    base = metrics(seeded.db, f"{RUN}/base", "micro_pope"), metrics(seeded.db, f"{RUN}/base", "micro_chair")
    accuracy = 100 * sum(base[0][s]["accuracy"] for s in ("random", "popular", "adversarial")) / 3
    expected = (accuracy + 100 - 100 * base[1]["chair_s"] + 100 - 100 * base[1]["chair_i"]) / 3
    score = measured.headers.index("µScore ↑")
    assert measured.rows[f"{RUN}/base"][score][0] == f"{expected:.2f}"
    assert measured.rows[f"{RUN}/base"][score + 1][0] == "0.00"


def test_reported_rows_can_be_switched(seeded, app_env):
    app_env(seeded.db)
    at = open_app()
    at.multiselect(key="reported").set_value(["Tables 6+7", "Table 8"]).run()
    tables = leaderboard_tables(at)
    assert any("LLaVA-1.5-13B + CSR iter-5 (reported, Tables 6+7)" in t.rows for t in tables)
    assert any("Vila-7B + CSR iter-3 (reported, Table 8)" in t.rows for t in tables)
    at.multiselect(key="reported").set_value([]).run()
    assert len(leaderboard_tables(at)) == 1


def test_pope_split_filter_changes_the_pope_columns(seeded, app_env):
    app_env(seeded.db)
    at = open_app()
    at.sidebar.selectbox(key="split").set_value("adversarial").run()
    measured = leaderboard_tables(at)[0]
    pope = measured.headers.index("µPOPE acc ↑")
    m = metrics(seeded.db, f"{RUN}/iter1", "micro_pope")
    assert measured.rows[f"{RUN}/iter1"][pope][0] == f"{100 * m['adversarial']['accuracy']:.2f}"
    assert measured.rows["pope-only"][pope][0] == "—"  # it has only the random split


def test_charts_radar_and_scores_by_iteration(seeded, app_env):
    app_env(seeded.db)
    at = open_app("Charts")
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    radar, lines = charts
    assert {t["name"] for t in radar["data"]} >= {f"{RUN}/base", f"{RUN}/iter2"}
    assert all(t["type"] == "scatterpolar" for t in radar["data"])
    pope_only = next(t for t in radar["data"] if t["name"] == "pope-only")
    assert pope_only["r"][pope_only["theta"].index("µCHAIR_S")] is None  # a gap in the line, not a zero
    table = at.dataframe[0].value
    ours = table[table["run"] == RUN]
    assert sorted(ours["iteration"]) == [0, 1, 2]
    assert {t["name"] for t in lines["data"]} == {RUN}


def test_preference_view_shows_the_run_pairs(seeded, app_env):
    app_env(seeded.db)
    at = open_app("Preference data")
    assert at.selectbox(key="pref_run").value == RUN
    expected = reward_by_iteration(load_pairs(seeded.run)).round(4)
    shown = at.dataframe[0].value
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)
    assert list(shown["iteration"]) == [1, 2]
    histogram = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in histogram["data"]} == {"chosen", "rejected"}
    diagnostics = next(d.value for d in at.dataframe if "informative %" in d.value)  # made with annotations
    expected = pair_diagnostics(seeded.run).round(2)
    pd.testing.assert_frame_equal(diagnostics.reset_index(drop=True), expected, check_dtype=False)
    assert list(diagnostics["iteration"]) == [1, 2]
    kinds = diagnostics[["informative %", "inverted %", "uninformative %", "tied %"]].sum(axis=1)
    assert all(abs(k - 100) < 0.05 for k in kinds)


def test_sample_viewer_highlights_chair_objects(seeded, app_env):
    app_env(seeded.db)
    at = open_app("Samples")
    at.selectbox(key="sample_benchmark").set_value("micro_chair").run()
    at.multiselect(key="sample_models_micro_chair").set_value(["captioner"]).run()
    html = "\n".join(m.value for m in at.markdown)
    assert html.count('<span class="hallucinated" title="giraffe: hallucinated"') == 2  # one per caption
    assert html.count('class="hallucinated"') == 2  # and nothing else is red
    for caption, truth in seeded.captions.values():
        word = truth[0].split()[-1]  # "dining table" is counted from "table"
        assert f'<span class="correct" title="{truth[0]}: correct"' in html and f">{word}</span>" in html
    assert len(at.get("image")) == 2  # each sample's image
    assert any("2 samples" in c.value for c in at.caption)


def test_sample_viewer_side_by_side_with_mistakes_filter_and_paging(seeded, app_env):
    app_env(seeded.db)
    at = open_app("Samples")
    at.selectbox(key="sample_benchmark").set_value("micro_pope").run()
    models = [f"{RUN}/base", f"{RUN}/iter1", f"{RUN}/iter2", "pope-only"]
    assert at.multiselect(key="sample_models_micro_pope").value == models  # up to four, side by side
    store = ResultsStore(seeded.db)
    evaluations = {e.model: e.id for e in store.evaluations(benchmark="micro_pope")}
    total = len(store.samples(evaluations[f"{RUN}/base"]))
    assert any(f"{total} samples · 4 model(s)" in c.value for c in at.caption)
    assert at.number_input(key="page").max == -(-total // 10)
    assert len(at.get("image")) == min(10, total)  # csr-eval recorded each sample's image
    at.checkbox(key="mistakes").check().run()
    wrong = {s["sample_id"] for m in models for s in store.samples(evaluations[m]) if s["correct"] is False}
    ours = {s["sample_id"] for s in store.samples(evaluations[f"{RUN}/base"])}
    assert any(f"{len(wrong & ours)} samples" in c.value for c in at.caption)
    html = "\n".join(m.value for m in at.markdown)
    assert 'class="wrong"' in html


def test_empty_database_shows_the_commands(tmp_path, app_env):
    empty = tmp_path / "empty.db"
    ResultsStore(empty)  # the tables, no results
    app_env(empty)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "make demo" in at.info[0].value and "csr-eval --model" in at.info[0].value


@pytest.mark.parametrize("make", ["missing", "not_sqlite", "directory"])
def test_bad_database_path_is_an_error_naming_it(tmp_path, app_env, make):
    path = tmp_path / "results.db"
    if make == "not_sqlite":
        path.write_text("model,score\n")
    elif make == "directory":
        path.mkdir()
    app_env(path)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert str(path) in at.error[0].value
    assert not path.exists() or make != "missing"  # nothing was created
