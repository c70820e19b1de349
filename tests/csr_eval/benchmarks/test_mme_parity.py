"""MME parity: LLaVA-1.5-13B results scored as the official calculation.py does (EXPECTED.json)."""

import pytest

from csr_eval.benchmarks import mme

pytestmark = pytest.mark.parity


def test_llava15_13b_mme_matches_reference(reference_dir, expected):
    exp = expected("mme")
    result = mme.score_results_dir(reference_dir / "mme" / "results_llava-v1.5-13b", require_all=True)
    assert result.perception == pytest.approx(exp["totals"]["Perception"], abs=1e-6)
    assert result.cognition == pytest.approx(exp["totals"]["Cognition"], abs=1e-6)
    assert round(result.perception, 2) == 1531.32 and round(result.cognition, 2) == 295.36
    for name, score in exp["subtask_scores"].items():
        assert result.subtasks[name].score == pytest.approx(score, abs=1e-6), name
    for name, d in exp["subtask_details"].items():
        got = result.subtasks[name]
        assert (got.acc, got.acc_plus, got.other_num) == (pytest.approx(d["acc"]), pytest.approx(d["acc_plus"]),
                                                          d["other_num"]), name
        assert (got.n_questions, got.n_images) == (d["n_questions"], d["n_images"])
