"""POPE parity: LLaVA-1.5-13B answers scored as LLaVA's eval_pope.py does (EXPECTED.json)."""

import pytest

from csr_eval.benchmarks import pope

pytestmark = pytest.mark.parity


def test_llava15_13b_pope_matches_reference(reference_dir, expected):
    exp = expected("pope")
    d = reference_dir / "pope"
    result = pope.score_files(d / "coco", d / "llava_pope_test.jsonl", d / "answers" / "llava-v1.5-13b.jsonl")
    splits = exp["splits"]
    for split, e in splits.items():
        got = result.splits[split]
        e = {k.lower(): v for k, v in e.items()}
        assert (got.tp, got.fp, got.tn, got.fn) == (e["tp"], e["fp"], e["tn"], e["fn"])
        for key in ("accuracy", "precision", "recall", "f1", "yes_ratio"):
            assert getattr(got, key) == pytest.approx(e[key], abs=5e-5), (split, key)
    assert round(result.splits["adversarial"].f1, 4) == 0.8446
    assert round(result.splits["popular"].f1, 4) == 0.8625
    assert round(result.splits["random"].f1, 4) == 0.8714
    assert round(100 * result.mean_f1, 1) == 85.9
    assert result.splits["random"].n == 2910  # the 2023-08 label generation
