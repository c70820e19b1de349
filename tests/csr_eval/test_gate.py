"""The regression gate's arithmetic: points, directions, tolerances."""

import json

import pytest

from csr_eval.errors import InputError
from csr_eval.gate import compare, parse_tolerances, read_reference_file


def _pope(f1):
    return {s: {"f1": f1, "accuracy": f1} for s in ("adversarial", "popular", "random")} | {"mean_f1": f1}


REFERENCE = {"micro_pope": _pope(0.900), "micro_chair": {"chair_s": 0.200, "chair_i": 0.100, "recall": 0.8}}


def test_equal_results_pass_and_list_every_gated_metric():
    comparisons = compare(REFERENCE, REFERENCE)
    assert not any(c.regressed for c in comparisons)
    assert sorted((c.benchmark, c.metric) for c in comparisons) == [
        ("micro_chair", "chair_i"), ("micro_chair", "chair_s"), ("micro_pope", "adversarial.f1"),
        ("micro_pope", "popular.f1"), ("micro_pope", "random.f1")]


@pytest.mark.parametrize("current, regressed", [
    ({"micro_chair": {"chair_s": 0.209, "chair_i": 0.1}}, []),  # +0.9 point: within 1.0
    ({"micro_chair": {"chair_s": 0.211, "chair_i": 0.1}}, ["chair_s"]),  # +1.1 points
    ({"micro_chair": {"chair_s": 0.1, "chair_i": 0.106}}, ["chair_i"]),  # +0.6 > 0.5
    ({"micro_pope": _pope(0.896)}, []),  # -0.4 point
    ({"micro_pope": _pope(0.894)}, ["adversarial.f1", "popular.f1", "random.f1"]),
    ({"micro_pope": _pope(0.99)}, []),  # better is never a regression
])
def test_regressions_beyond_tolerance_in_points(current, regressed):
    assert [c.metric for c in compare(current, REFERENCE) if c.regressed] == regressed


def test_tolerances_are_configurable():
    current = {"micro_chair": {"chair_s": 0.211, "chair_i": 0.1}}
    assert not any(c.regressed for c in compare(current, REFERENCE, parse_tolerances(["chair_s=2"])))
    with pytest.raises(InputError, match="expected one of"):
        parse_tolerances(["recall=1"])


def test_reference_file_errors_are_named(tmp_path):
    bad = tmp_path / "ref.json"
    bad.write_text('{"benchmarks": [1]}')
    with pytest.raises(InputError, match="csr-eval --json shape"):
        read_reference_file(bad)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"benchmarks": {"micro_pope": {"status": "ok", "metrics": _pope(0.9)},
                                             "pope": {"status": "skipped", "metrics": {}}}}))
    assert set(read_reference_file(ok)) == {"micro_pope"}
