"""MM-Vet: a judge grades each answer in {0.0, 0.1, ..., 1.0}; total = mean ×100, also per capability.

Reference: yuweihao/MM-Vet ``mm-vet_evaluator.py``. Samples without a valid grade are counted and reported
and no total is given unless every sample is graded (``require_all``), instead of scoring silently.
"""

from __future__ import annotations

NAME = "mmvet"
CAPABILITIES = ("rec", "ocr", "know", "gen", "spat", "math")


def score(records: list[dict], require_all: bool = True) -> dict:
    """records: ``score`` (0..1 or None when the judge failed) and ``capabilities`` (list of names)."""
    graded = [r for r in records if isinstance(r.get("score"), (int, float)) and 0 <= r["score"] <= 1]
    failed = len(records) - len(graded)
    if not graded or (require_all and failed):
        raise ValueError(f"{failed} of {len(records)} samples have no valid judge grade; refusing to report")
    caps = {}
    for cap in CAPABILITIES:
        vals = [r["score"] for r in graded if cap in r.get("capabilities", [])]
        if vals:
            caps[cap] = 100 * sum(vals) / len(vals)
    return {"total": 100 * sum(r["score"] for r in graded) / len(graded), "capabilities": caps,
            "n": len(graded), "n_failed": failed}
