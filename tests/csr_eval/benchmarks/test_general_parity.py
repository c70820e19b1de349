"""Parity of MMBench CircularEval and LLaVA-W relative scores with the reference (EXPECTED.json)."""

import pytest

from csr_eval.benchmarks import llava_wild, mmbench

pytestmark = pytest.mark.parity


def test_mmbench_dev_circular(reference_dir, expected):
    exp = expected("mmbench")
    r = mmbench.score_file(reference_dir / "mmbench" / "llava-v1.5-13b.csv")
    assert (r["n_rows"], r["n_questions"]) == (exp["n_rows"], exp["n_questions"])
    assert r["n_circular_correct"] == exp["circular"]["correct"]
    assert round(100 * r["circular_accuracy"], 2) == 67.69
    assert 100 * r["vanilla_accuracy"] == pytest.approx(exp["vanilla_first_pass_only"]["accuracy_percent"])
    assert 100 * r["per_row_accuracy"] == pytest.approx(exp["per_row"]["accuracy_percent"])


def test_llava_wild_reviews(reference_dir, expected):
    exp = expected("llava_wild")["review_files"]
    for name, e in exp.items():
        r = llava_wild.score_file(reference_dir / "llava_wild" / e["file"])
        assert r["n_unparseable"] == 0
        for cat, ce in e["by_category"].items():
            got = r["categories"][cat]
            assert got["n"] == ce["n"]
            assert got["relative"] == ce["relative_score"], (name, cat)
            assert got["model_mean"] == pytest.approx(ce["mean_model_score"])
    assert llava_wild.score_file(reference_dir / "llava_wild/reviews/llava-v1.5-13b-eval1.jsonl")["relative"] == 72.8


def test_review_tuples_equal_parsed_content(reference_dir):
    from csr_eval.io import read_jsonl
    for path in sorted((reference_dir / "llava_wild" / "reviews").glob("*.jsonl")):
        for _, review in read_jsonl(path):
            assert llava_wild.parse_review_scores(review["content"]) == tuple(review["tuple"])
