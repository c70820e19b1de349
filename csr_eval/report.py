"""Plain-text tables for the terminal."""

from __future__ import annotations

import sys
from typing import Sequence

from tqdm import tqdm


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return "" if value is None else str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence], title: str | None = None,
                 left: int = 1) -> str:
    """Align columns (the first ``left`` to the left, numbers to the right); floats below 10 get 4 decimals
    (fractions), larger ones 2 (percent, MME points)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    lines = [] if title is None else [title]
    lines.append("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.rjust(w) if i >= left else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def progress_bars():
    """A progress callback ``(name, done, total)`` drawing one tqdm bar per benchmark on stderr."""
    bars = {}

    def update(name: str, done: int, total: int) -> None:
        if name not in bars:
            bars[name] = tqdm(total=total, desc=name, file=sys.stderr, leave=True)
        bar = bars[name]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return update
