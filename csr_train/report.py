"""The per-iteration summary printed at the end of a run (and by ``csr-train summary RUN``)."""

from __future__ import annotations

from csr_eval.benchmarks.pope import TABLE_ORDER as POPE_TABLE_ORDER
from csr_eval.report import format_table


def _get(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def summary_rows(state: dict) -> list[dict]:
    rows = []
    for key in sorted(state.get("iterations", {}), key=int):
        entry = state["iterations"][key]
        pairs = _get(entry, "pairs", "summary") or {}
        metrics = _get(entry, "eval", "summary") or {}
        pope = metrics.get("micro_pope") or metrics.get("pope") or {}
        chair = metrics.get("micro_chair") or metrics.get("chair") or {}
        f1 = [pope[s]["f1"] for s in POPE_TABLE_ORDER if isinstance(pope.get(s), dict)]
        rows.append({
            "model": "base" if key == "0" else f"iter{key}",
            "pairs": pairs.get("pairs"),
            "R_I chosen": pairs.get("chosen_r_i"), "R_I rejected": pairs.get("rejected_r_i"),
            "GT CHAIR_S chosen": _get(pairs, "ground_truth", "chosen", "chair_s"),
            "GT CHAIR_S rejected": _get(pairs, "ground_truth", "rejected", "chair_s"),
            "P(end) chosen": pairs.get("chosen_end_prob"),  # median; low: chosen answers the model would go on from
            "POPE F1": sum(f1) / len(f1) if f1 else None,
            "CHAIR_S": chair.get("chair_s"), "CHAIR_I": chair.get("chair_i"), "recall": chair.get("recall"),
            "len": chair.get("mean_length")})
    return rows


def format_summary(state: dict) -> str:
    rows = summary_rows(state)
    columns = list(rows[0]) if rows else []
    table = [[_fmt(r[c]) for c in columns] for r in rows]
    return format_table(columns, table, left=1)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
