"""The leaderboard table in the layout of the paper's Table 1, its aggregate, and its CSV and LaTeX exports.

Every number is a cell computed from stored metrics (``columns.cell``); a benchmark a model lacks is a gap
(shown "—", exported empty), never a zero. The aggregate follows the paper (``csr_eval.aggregate``) and is
taken over the columns *every* row of the table has, named in ``notes``: an average over different column
sets would compare different things. The micro-world has an aggregate of its own.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

from csr_eval.aggregate import average_of, improvement_percent, normalize
from leaderboard.columns import ALL_SPLITS, MICRO, Column, cell, metrics_by_model
from leaderboard.reported import ReportedRow

AVERAGE_GROUP = "Average (paper normalisation)"
SCORE, MICRO_SCORE = "Score ↑", "µScore ↑"


@dataclass
class LeaderboardTable:
    frame: pd.DataFrame  # rows: labels; columns: MultiIndex (group, header); floats, NaN for a gap
    columns: list[Column]  # the benchmark columns shown, in order
    source: str  # "measured" or "reported: <table>"
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[str]:
        return list(self.frame.index)

    def value(self, row: str, key: str) -> float | None:
        column = next(c for c in self.columns if c.key == key)
        v = self.frame.loc[row, (column.group, column.header)]
        return None if pd.isna(v) else float(v)

    def best(self) -> dict[tuple[str, str], set[str]]:
        """Per column with a direction, the rows holding its best value (ties all count)."""
        out = {}
        directions = {(c.group, c.header): c.higher_is_better for c in self.columns}
        directions.update({(AVERAGE_GROUP, h): True for g, h in self.frame.columns if g == AVERAGE_GROUP})
        for key, higher in directions.items():
            series = self.frame[key].dropna()
            if higher is None or len(series) < 2:  # a lone value is not "best" of anything
                continue
            target = series.max() if higher else series.min()
            out[key] = {row for row, v in series.items() if math.isclose(v, target, rel_tol=0, abs_tol=1e-9)}
        return out

    def best_mask(self) -> pd.DataFrame:
        """True where a cell holds its column's best value (positional, same shape as ``frame``)."""
        best = self.best()
        return pd.DataFrame([[row in best.get(key, set()) for key in self.frame.columns] for row in self.frame.index])

    def styled(self, latex: bool = False, mask: pd.DataFrame | None = None):
        """A pandas Styler: per-column digits, gaps as "—", the best value per column in bold (``latex``:
        headers and labels written as LaTeX)."""
        mask = self.best_mask() if mask is None else mask.copy()
        frame = self.frame.copy()
        if latex:
            frame.columns = pd.MultiIndex.from_tuples([(_latex(g), _latex(h)) for g, h in self.frame.columns])
            frame.index = [_latex(str(r)) for r in self.frame.index]
        mask.index, mask.columns = frame.index, frame.columns
        digits = {(c.group, c.header): c.digits for c in self.columns}
        formats = {new: f"{{:.{digits.get(old, 2)}f}}" for old, new in zip(self.frame.columns, frame.columns)}
        return frame.style.format(formats, na_rep="--" if latex else "—").apply(
            lambda column: ["font-weight: bold" if b else "" for b in mask[column.name]], axis=0)

    def to_html(self) -> str:
        mask = self.best_mask()
        classes = mask.replace({True: "best", False: ""})
        classes.index, classes.columns = self.frame.index, self.frame.columns
        return self.styled(mask=mask).set_td_classes(classes).set_table_attributes('class="csr-leaderboard"').to_html()

    def flat(self) -> pd.DataFrame:
        """One header row ("group: column"), the row label as ``model`` and a ``source`` column."""
        flat = self.frame.copy()
        flat.columns = [f"{group}: {header}" for group, header in flat.columns]
        flat.insert(0, "source", self.source)
        return flat.rename_axis("model").reset_index()

    def to_csv(self) -> str:
        return self.flat().to_csv(index=False, float_format="%.4g")

    def to_latex(self) -> str:
        return self.styled(latex=True).to_latex(convert_css=True, hrules=True, multicol_align="c",
                                                caption=_latex(f"{self.source}. " + " ".join(self.notes)))


def _latex(text: str) -> str:
    """Headers and labels as LaTeX: arrows, super/subscripts of the paper's column names, escapes."""
    out = re.sub(r"([\\&%$#{}~])", r"\\\1", text).replace("_", r"\_")
    out = out.replace("^", r"\textasciicircum{}")
    for plain, tex in (("↑", r"$\uparrow$"), ("↓", r"$\downarrow$"), ("µ", r"$\mu$"), ("—", "--"), ("−", "-"),
                       (r"\textasciicircum{}P", "$^P$"), (r"\textasciicircum{}C", "$^C$"),
                       (r"\textasciicircum{}W", "$^W$"), (r"\textasciicircum{}I", "$^I$"),
                       (r"CHAIR\_S", "CHAIR$_S$"), (r"CHAIR\_I", "CHAIR$_I$")):
        out = out.replace(plain, tex)
    return out


def _frame(rows: dict[str, dict[str, float | None]], columns: list[Column]) -> tuple[pd.DataFrame, list[Column]]:
    shown = [c for c in columns if any(values.get(c.key) is not None for values in rows.values())]
    index = pd.MultiIndex.from_tuples([(c.group, c.header) for c in shown])
    data = [[values.get(c.key) if values.get(c.key) is not None else float("nan") for c in shown]
            for values in rows.values()]
    return pd.DataFrame(data, index=list(rows), columns=index, dtype=float), shown


def _add_averages(frame: pd.DataFrame, rows: dict[str, dict[str, float | None]], shown: list[Column],
                  reference: str | None, notes: list[str], split: str) -> None:
    """The paper's average over the columns all rows share, separately for real and micro-world columns."""
    for micro, header in ((False, SCORE), (True, MICRO_SCORE)):
        candidates = [c for c in shown if c.paper_column and (c.group == MICRO) == micro]
        common = [c for c in candidates if all(rows[r].get(c.key) is not None for r in rows)]
        if not common:
            continue
        normalised = {r: {c.paper_column: normalize(c.paper_column, rows[r][c.key]) for c in common} for r in rows}
        frame[(AVERAGE_GROUP, header)] = [average_of(normalised[r])["score"] for r in rows]
        names = ", ".join(c.label for c in common)
        pope = "" if split == ALL_SPLITS else f" (POPE: {split} split only)"
        notes.append(f"{header.removesuffix(' ↑')} = mean over {names}{pope}, with MME^P/16, MME^C/4, "
                     f"100 − CHAIR (the paper's normalisation); columns some rows lack are left out.")
        if reference in rows:
            header_pct = f"% vs ref.{'' if not micro else ' (µ)'}"
            frame[(AVERAGE_GROUP, header_pct)] = [
                improvement_percent(normalised[r], normalised[reference])["improvement_percent"] for r in rows]
            notes.append(f"{header_pct} = % improvement of {header.removesuffix(' ↑')} over {reference}.")


def measured_table(evaluations: pd.DataFrame, models: list[str], columns: list[Column],
                   split: str = ALL_SPLITS, reference: str | None = None) -> LeaderboardTable:
    """Rows = ``models`` (in order), from the newest complete evaluation of each (model, benchmark)."""
    metrics = metrics_by_model(evaluations)
    rows = {m: {c.key: cell(c, metrics.get((m, c.benchmark)), split) for c in columns} for m in models}
    frame, shown = _frame(rows, columns)
    notes: list[str] = []
    _add_averages(frame, rows, shown, reference, notes, split)
    missing = {m: [c.label for c in shown if rows[m][c.key] is None] for m in models}
    notes += [f"{m} has no result for {', '.join(cols)} (shown —)." for m, cols in missing.items() if cols]
    return LeaderboardTable(frame, shown, "measured", notes)


def reported_table(rows: list[ReportedRow], columns: list[Column]) -> LeaderboardTable:
    """The paper's rows of one table, labelled "(reported, Table N)"; averaged among themselves only."""
    values = {r.label: dict(r.values) for r in rows}
    frame, shown = _frame(values, [c for c in columns if c.group != MICRO])
    tables = rows[0].tables if rows else ""
    notes = ["Reported by the paper (not measured by this toolkit)."]
    _add_averages(frame, values, shown, None, notes, ALL_SPLITS)
    return LeaderboardTable(frame, shown, f"reported: {tables}", notes)
