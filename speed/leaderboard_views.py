"""How fast the leaderboard's views load on a large store: 10 models × 10 benchmarks × 10,000 samples.

    python speed/leaderboard_views.py [--db PATH] [--repeats 3]

Seeds the store once (SQLAlchemy bulk inserts into the real schema; ~1M sample rows), then renders every view
through Streamlit's AppTest, cold (caches cleared) and warm (cached, the next interaction), each at least three
times. The sample viewer's data access is also compared with the naive way (``ResultsStore.samples`` of each
model's evaluation, filtered in Python) in the same run: the ratio is printed and written to
``speed/results/leaderboard_views.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

MODELS = [f"bench-run/{'base' if k == 0 else f'iter{k}'}" for k in range(5)] + [f"baseline-{k}" for k in range(5)]
BENCHMARKS = ("micro_pope", "micro_chair", "micro_mme", "pope", "chair", "mme", "seed", "gqa", "sqa", "vizwiz")
SAMPLES = 10_000
VIEWS = ("Leaderboard", "Charts", "Preference data", "Samples")
GOALS = {"cold": 5.0, "warm": 1.0}  # seconds per view on 2 CPU cores


def _metrics(benchmark: str, rng: random.Random) -> dict:
    kind = benchmark.removeprefix("micro_")
    acc = lambda: rng.uniform(0.5, 0.9)  # noqa: E731
    if kind == "pope":
        splits = {s: {"accuracy": acc(), "f1": acc(), "precision": acc(), "recall": acc(), "yes_ratio": 0.5,
                      "n": SAMPLES // 3} for s in ("random", "popular", "adversarial")}
        return splits | {"mean_f1": statistics.mean(v["f1"] for v in splits.values())}
    if kind == "chair":
        return {"chair_s": rng.uniform(0.2, 0.5), "chair_i": rng.uniform(0.05, 0.15), "recall": acc(),
                "mean_length": rng.uniform(60, 100), "n_captions": SAMPLES}
    if kind == "mme":
        return {"perception": rng.uniform(1200, 1600), "cognition": rng.uniform(250, 400)}
    if kind == "sqa":
        return {"img_accuracy": acc()}
    return {"accuracy": acc()}


def seed_store(db: Path) -> None:
    from sqlalchemy import insert

    from csr_eval.store import ResultsStore, SampleRecord

    store = ResultsStore(db)
    rng = random.Random(0)
    for k, name in enumerate(MODELS):
        model = store.upsert_model(name, "synthetic", run=str(db.parent / "bench-run") if k < 5 else None,
                                   iteration=k if k < 5 else None)
        for benchmark in BENCHMARKS:
            eid, _ = store.start_evaluation(model, benchmark, {"benchmark": benchmark}, "bench")
            pope = benchmark.endswith("pope")
            rows = [{"evaluation_id": eid, "sample_id": f"{i:05d}", "split": ("random", "popular", "adversarial")[i % 3]
                     if pope else None, "question": f"Is there a thing {i}?", "answer": "yes" if i % 2 else "no",
                     "parsed": "yes" if i % 2 else "no", "correct": rng.random() < 0.85,
                     "hallucinated": None, "extra": {"image": f"/nowhere/{i}.png"}} for i in range(SAMPLES)]
            with store.engine.begin() as connection:
                connection.execute(insert(SampleRecord.__table__), rows)
            store.finish_evaluation(eid, _metrics(benchmark, rng))


def _stats(times: list[float]) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": len(times)}


def time_views(db: Path, repeats: int) -> dict:
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # bare-mode warnings on every run

    os.environ["CSR_LEADERBOARD_DB"] = str(db)
    app = str(HERE.parent / "leaderboard" / "app.py")
    out = {}
    for view in VIEWS:
        cold, warm = [], []
        for _ in range(repeats):
            st.cache_data.clear()
            st.cache_resource.clear()
            at = AppTest.from_file(app, default_timeout=600)
            start = time.perf_counter()
            at.run()
            if view != "Leaderboard":
                at.sidebar.radio(key="view").set_value(view).run()
            cold.append(time.perf_counter() - start)
            assert not at.exception, at.exception
            start = time.perf_counter()
            at.run()  # the next interaction: every query cached
            warm.append(time.perf_counter() - start)
        out[view] = {"cold": _stats(cold), "warm": _stats(warm)}
        print(f"{view:16s} cold {out[view]['cold']['median']:.2f} s   warm {out[view]['warm']['median']:.2f} s",
              flush=True)
    return out


def time_sample_access(db: Path, repeats: int) -> dict:
    """One page of mistakes side by side for 4 models: paged SQL vs loading every sample (the naive way)."""
    from csr_eval.store import ResultsStore
    from leaderboard.queries import PageQuery, ResultsView, open_engine

    store, view = ResultsStore(db), ResultsView(open_engine(db))
    ids = tuple(e.id for e in store.evaluations(benchmark="micro_pope")[:4])

    def naive():
        answers = {eid: {s["sample_id"]: s for s in store.samples(eid)} for eid in ids}
        wrong = sorted({sid for rows in answers.values() for sid, s in rows.items() if s["correct"] is False})
        return len(wrong), [[answers[eid][sid] for eid in ids] for sid in wrong[:10]]

    def ours():
        query = PageQuery(ids, mistakes_only=True)
        return view.count(query), view.page(query, 0, 10)

    assert naive()[0] == ours()[0]
    results = {}
    for name, action in (("baseline", naive), ("ours", ours)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        results[name] = _stats(times)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=str(HERE / "results" / "leaderboard_bench.db"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    db = Path(args.db)
    if not db.exists():
        start = time.perf_counter()
        seed_store(db)
        print(f"seeded {db} in {time.perf_counter() - start:.0f} s", flush=True)
    access = time_sample_access(db, args.repeats)
    ratio = access["baseline"]["median"] / access["ours"]["median"]
    print(f"sample page (4 models, mistakes): naive {access['baseline']['median']:.3f} s, "
          f"paged {access['ours']['median']:.3f} s, ratio {ratio:.1f}x", flush=True)
    views = time_views(db, args.repeats)
    worst = {kind: max(v[kind]["median"] for v in views.values()) for kind in ("cold", "warm")}
    result = {
        "benchmark": "leaderboard_views",
        "data": f"{len(MODELS)} models x {len(BENCHMARKS)} benchmarks x {SAMPLES} samples",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "baseline": access["baseline"], "ours": access["ours"], "ratio": ratio, "goal": 10.0,
        "higher_is_better": True,
        "views": views, "view_goals_s": GOALS,
        "view_goals_met": {kind: worst[kind] <= GOALS[kind] for kind in GOALS},
        "command": "python speed/leaderboard_views.py",
    }
    out = HERE / "results" / "leaderboard_views.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"worst view: cold {worst['cold']:.2f} s (goal {GOALS['cold']}), warm {worst['warm']:.2f} s "
          f"(goal {GOALS['warm']}); wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
