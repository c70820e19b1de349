"""Pair diagnostics against ground truth, on hand-built pairs."""

from __future__ import annotations

import json

import pytest

from csr_train.pair_diagnostics import (annotate_pairs, early_stop_warning, pair_kind, pair_statistics,
                                        repeated_objects, summarize)


@pytest.fixture
def annotations(tmp_path):
    cats = [{"id": 18, "name": "dog"}, {"id": 34, "name": "frisbee"}, {"id": 15, "name": "bench"},
            {"id": 3, "name": "car"}]
    images = [{"id": 1, "file_name": "a.png", "width": 64, "height": 64},
              {"id": 2, "file_name": "b.png", "width": 64, "height": 64}]
    anns = [{"id": 1, "image_id": 1, "category_id": 18, "bbox": [2, 3, 14, 14]},
            {"id": 2, "image_id": 2, "category_id": 3, "bbox": [2, 3, 14, 14]}]
    (tmp_path / "instances_csr.json").write_text(json.dumps({"images": images, "categories": cats,
                                                             "annotations": anns}))
    return tmp_path


def _row(image, chosen, rejected, margin):
    split = lambda text: [{"text": s} for s in text.split(". ") if s]  # noqa: E731
    return {"image": f"imgs/{image}", "chosen": chosen, "rejected": rejected, "margin": margin,
            "chosen_sentences": split(chosen), "rejected_sentences": split(rejected)}


def test_kinds():
    assert pair_kind(0, 1) == "informative" and pair_kind(2, 1) == "inverted"
    assert pair_kind(0, 0) == "uninformative" and pair_kind(1, 1) == "tied"


def test_repetitions_count_later_mentions():
    from csr_eval.benchmarks.chair import CocoObjectVocabulary
    vocab = CocoObjectVocabulary.reference()
    assert repeated_objects("A dog is at the top. A dog is at the left. There is a dog.", vocab) == 2
    assert repeated_objects("A dog and a dog.", vocab) == 0  # within one sentence: not a repetition


def test_annotate_and_summarize(annotations):
    rows = [_row("a.png", "A dog is at the top left.", "A bench is at the top left.", 4.0),  # informative
            _row("a.png", "A frisbee is at the top.", "A dog is in the center.", 1.0),  # inverted
            _row("b.png", "A car is at the top left.", "A car is at the top. A car is at the left.", 2.0),  # none
            _row("b.png", "A dog is here. A car too.", "A bench is here. A car too.", 3.0),  # tied
            _row("zzz.png", "A dog.", "A cat.", 9.0)]  # not annotated
    annotate_pairs(rows, annotations)
    assert [r["gt_kind"] for r in rows] == ["informative", "inverted", "uninformative", "tied", None]
    assert rows[0]["gt_rejected_hallucinated"] == 1 and rows[0]["gt_chosen_objects"] == 1
    assert rows[2]["rejected_repeats"] == 1 and rows[2]["chosen_repeats"] == 0
    summary = summarize(rows, annotations)
    assert summary["pairs_scored"] == 4
    assert summary["kinds"] == {"informative": 0.25, "inverted": 0.25, "uninformative": 0.25, "tied": 0.25}
    assert summary["margin"]["informative"]["median"] == 4.0 and summary["margin"]["tied"]["n"] == 1
    assert summary["repeating_pairs"] == {"chosen": 0.0, "rejected": 0.2}
    assert summary["chosen"]["chair_s"] == pytest.approx(2 / 4) and summary["rejected"]["chair_s"] == pytest.approx(2 / 4)
    assert summary["length"]["rejected"]["sentences"] == pytest.approx((1 + 1 + 2 + 2 + 1) / 5)


def test_chosen_end_prob_is_the_median_where_chosen_answers_end():
    """The model's own P(EOS) after the chosen answer's last sentence (None where no EOS-alone hypothesis was seen,
    e.g. a sentence that ended with EOS itself): low values mean pairs teach the model to stop early."""
    rows = [_row("a.png", "A dog. A car.", "A cat.", 1.0) for _ in range(4)]
    for sentence in (s for r in rows for s in r["chosen_sentences"] + r["rejected_sentences"]):
        sentence["r_i"] = 50.0
    for row, prob in zip(rows, (0.9, 0.05, 0.2, None)):
        row["chosen_sentences"][-1]["end_prob"] = prob
    assert pair_statistics(rows)["chosen_end_prob"] == pytest.approx(0.2)
    assert "median P(EOS) 0.20" in early_stop_warning(pair_statistics(rows))
    unknown = pair_statistics(rows[3:])
    assert unknown["chosen_end_prob"] is None and early_stop_warning(unknown) is None
    assert early_stop_warning(pair_statistics(rows[:1])) is None  # 0.9: where the model itself would stop
