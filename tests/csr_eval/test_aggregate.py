import pytest

from csr_eval.aggregate import aggregate_score, improvement_over, normalized_columns


def test_paper_normalisation():
    metrics = {"mme": {"perception": 1600.0, "cognition": 320.0}, "chair": {"chair_s": 0.4, "chair_i": 0.1},
               "pope": {"random": {"accuracy": 0.88}, "popular": {"accuracy": 0.86}, "adversarial": {"accuracy": 0.84},
                        "mean_f1": 0.5}}
    cols = normalized_columns(metrics)
    assert cols == pytest.approx({"MME_P": 100.0, "MME_C": 80.0, "POPE": 86.0, "CHAIR_S": 60.0, "CHAIR_I": 90.0})
    agg = aggregate_score(metrics)
    assert agg["score"] == pytest.approx((100 + 80 + 86 + 60 + 90) / 5)
    assert agg["columns"] == ["MME_P", "MME_C", "POPE", "CHAIR_S", "CHAIR_I"]  # the set is always named


def test_improvement_uses_the_shared_columns_only():
    base = {"pope": {"random": {"accuracy": 0.80}}, "chair": {"chair_s": 0.5, "chair_i": 0.2}}
    ours = {"pope": {"random": {"accuracy": 0.84}}, "chair": {"chair_s": 0.3, "chair_i": 0.1}, "gqa": {"accuracy": 0.6}}
    r = improvement_over(ours, base)
    assert r["columns"] == ["POPE", "CHAIR_S", "CHAIR_I"]
    assert r["improvement_percent"] == pytest.approx(100 * ((84 + 70 + 90) / 3 - (80 + 50 + 80) / 3) / ((80 + 50 + 80) / 3))


def test_nothing_present_gives_none():
    assert aggregate_score({})["score"] is None


def test_pope_enters_as_mean_accuracy_not_f1():
    """The paper's averages are reproduced only with POPE accuracy (see tests/leaderboard/test_reported_data.py)."""
    pope = {s: {"accuracy": a, "f1": 0.1} for s, a in (("random", 0.9), ("popular", 0.8), ("adversarial", 0.7))}
    assert normalized_columns({"pope": pope | {"mean_f1": 0.1}})["POPE"] == pytest.approx(80.0)


def test_partial_metrics_are_a_gap_not_an_error():
    assert normalized_columns({"mme": {"perception": 1600.0}}) == {"MME_P": 100.0}


def test_improvement_over_a_zero_base_is_a_gap_not_a_crash():
    from csr_eval.aggregate import improvement_percent

    result = improvement_percent({"SCENE": 25.0}, {"SCENE": 0.0})
    assert result["improvement_percent"] is None and result["base_score"] == 0.0
