"""A CSR run's preference data, for Figure 5 (R_I of chosen vs rejected responses per iteration) and Table 10
(mean chosen and rejected reward per iteration).

The pairs live in ``<run>/iter<t>/pairs/pairs.parquet`` (written by ``csr_train.stages``); the results store
records each model's run folder, so the dashboard finds them without being told. A response's R_I is the mean
of its sentences' R_I (Eq. 3), the quantity the paper plots; its reward is the curated response reward.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

PAIRS = Path("pairs") / "pairs.parquet"
KINDS = ("informative", "inverted", "uninformative", "tied")  # csr_train.pair_diagnostics (not imported: csr_eval only)
ITERATION = re.compile(r"^iter(\d+)$")


def locate_run(recorded: str | None, database: str | None = None) -> Path | None:
    """The run folder as recorded in the store; relative paths are tried from here and from the database's
    project (the folder above ``results/``)."""
    if not recorded:
        return None
    path = Path(recorded)
    candidates = [path]
    if not path.is_absolute() and database and "://" not in database:
        db = Path(database).resolve()
        candidates += [db.parent / path, db.parent.parent / path]
    return next((c for c in candidates if c.is_dir()), None)


def pair_files(run: Path) -> dict[int, Path]:
    out = {}
    for folder in Path(run).iterdir():
        match = ITERATION.match(folder.name)
        if match and (folder / PAIRS).is_file():
            out[int(match.group(1))] = folder / PAIRS
    return dict(sorted(out.items()))


def _mean_r_i(sentences) -> float | None:
    values = [s["r_i"] for s in (sentences if sentences is not None else []) if s.get("r_i") is not None]
    return sum(values) / len(values) if values else None


def _end_prob(sentences) -> float | None:
    """The model's own P(EOS) where the response ends (csr_train's ``end_prob`` of its last sentence; None where the
    pairs predate it or the response ended inside a sentence)."""
    return sentences[-1].get("end_prob") if sentences is not None and len(sentences) else None


def load_pairs(run: Path) -> pd.DataFrame:
    """One row per (pair, response): iteration, response (chosen | rejected), r_i, reward, n_sentences, end_prob."""
    frames = []
    for iteration, path in pair_files(run).items():
        pairs = pd.read_parquet(path, columns=["prompt_id", "chosen_sentences", "rejected_sentences",
                                               "chosen_reward", "rejected_reward"])
        for response in ("chosen", "rejected"):
            frames.append(pd.DataFrame({
                "iteration": iteration, "prompt_id": pairs["prompt_id"], "response": response,
                "r_i": [_mean_r_i(s) for s in pairs[f"{response}_sentences"]],
                "reward": pairs[f"{response}_reward"].astype(float),
                "n_sentences": [len(s) if s is not None else 0 for s in pairs[f"{response}_sentences"]],
                "end_prob": pd.Series([_end_prob(s) for s in pairs[f"{response}_sentences"]], dtype=float)}))
    if not frames:
        return pd.DataFrame(columns=["iteration", "prompt_id", "response", "r_i", "reward", "n_sentences", "end_prob"])
    return pd.concat(frames, ignore_index=True)


def reward_by_iteration(pairs: pd.DataFrame) -> pd.DataFrame:
    """Table 10's rows: per iteration, the mean chosen and rejected reward (and R_I), the number of pairs, and the
    median P(EOS) where the chosen answers end (low: the pairs teach the model to stop early)."""
    if pairs.empty:
        return pd.DataFrame(columns=["iteration", "pairs", "chosen_reward", "rejected_reward", "chosen_r_i",
                                     "rejected_r_i", "chosen_end_prob"])
    wide = pairs.pivot_table(index="iteration", columns="response", values=["reward", "r_i"], aggfunc="mean")
    chosen = pairs[pairs.response == "chosen"].groupby("iteration")
    out = pd.DataFrame({"pairs": chosen.size(),
                        "chosen_reward": wide[("reward", "chosen")], "rejected_reward": wide[("reward", "rejected")],
                        "chosen_r_i": wide[("r_i", "chosen")], "rejected_r_i": wide[("r_i", "rejected")],
                        "chosen_end_prob": chosen["end_prob"].median()})
    return out.reset_index()


def pair_diagnostics(run: Path) -> pd.DataFrame:
    """Per iteration, what the pairs teach by ground truth (the columns ``csr_train.pair_diagnostics`` writes
    where annotations were given): the share of each pair kind in %, the median margin of informative and
    of uninformative pairs, and how often chosen and rejected responses repeat an object, with their lengths."""
    import pyarrow.parquet as pq

    columns = ["gt_kind", "margin", "chosen", "rejected", "chosen_repeats", "rejected_repeats"]
    rows = []
    for iteration, path in pair_files(run).items():
        if "gt_kind" not in pq.read_schema(path).names:
            continue
        pairs = pd.read_parquet(path, columns=columns)  # not the per-sentence lists
        known = pairs.dropna(subset=["gt_kind"])
        row = {"iteration": iteration, "pairs": len(known)}
        for kind in KINDS:
            row[f"{kind} %"] = 100 * float((known["gt_kind"] == kind).mean()) if len(known) else None
        for kind in ("informative", "uninformative"):
            margins = known.loc[known["gt_kind"] == kind, "margin"]
            row[f"median margin {kind}"] = float(margins.median()) if len(margins) else None
        for side in ("chosen", "rejected"):
            row[f"{side} repeats %"] = 100 * float((pairs[f"{side}_repeats"] > 0).mean())
            row[f"{side} words"] = float(pairs[side].str.split().str.len().mean())
        rows.append(row)
    return pd.DataFrame(rows)
