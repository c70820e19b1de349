"""Hand-computed cases for the general-benchmark scorers (LLaVA-1.5's parsing rules)."""

import pytest

from csr_eval.benchmarks import gqa, llava_wild, mmbench, mmvet, scienceqa, seed, vizwiz


@pytest.mark.parametrize("text,n,index", [
    ("A", 4, 0), ("C", 4, 2), ("B. Paris", 4, 1), ("The answer is D.", 4, 3), ("E", 4, -1),  # beyond choices
    ("The answer is A. The answer is B.", 4, -1),  # the pattern must match exactly once
    ("b", 4, -1), ("I don't know", 4, -1), ("B.Paris", 4, -1),
])
def test_scienceqa_parse(text, n, index):
    assert scienceqa.parse_choice(text, n) == index


def test_scienceqa_img_accuracy_counts_only_image_problems():
    problems = {"1": {"choices": ["x", "y"], "answer": 0, "image": "1.png"},
                "2": {"choices": ["x", "y"], "answer": 1, "image": None},
                "3": {"choices": ["x", "y", "z"], "answer": 2, "image": "3.png"}}
    r = scienceqa.score(problems, {"1": "A", "2": "A", "3": "B"})
    assert r["img_accuracy"] == 0.5 and r["n_img"] == 2 and r["accuracy"] == pytest.approx(1 / 3)


def test_seed_requires_the_bare_letter():
    r = seed.score([{"prediction": "A", "answer": "A", "question_type_id": 1},
                    {"prediction": "A.", "answer": "A", "question_type_id": 1},
                    {"prediction": " B", "answer": "B", "question_type_id": 2}])
    assert r["accuracy"] == pytest.approx(1 / 3) and r["by_type"] == {"1": 0.5, "2": 0.0}


def test_gqa_strips_final_periods_and_lowercases():
    assert gqa.normalize("Yes.") == "yes" and gqa.normalize("Left..") == "left"
    assert gqa.score([{"prediction": "Red.", "answer": "red"}, {"prediction": "a red", "answer": "red"}])[
        "accuracy"] == 0.5


def test_vizwiz_normalisation_and_accuracy():
    assert vizwiz.normalize_answer("Two dogs!") == "2 dogs"
    assert vizwiz.normalize_answer("The dont") == "don't"
    humans = ["red"] * 2 + ["blue"] * 8
    assert vizwiz.vqa_accuracy("Red", humans, leave_one_out=False) == pytest.approx(2 / 3)
    # official: mean over the 10 leave-one-out subsets: 2 subsets keep 1 "red" (1/3), 8 keep 2 (2/3)
    assert vizwiz.vqa_accuracy("red", humans) == pytest.approx((2 * (1 / 3) + 8 * (2 / 3)) / 10)
    assert vizwiz.vqa_accuracy("blue", humans) == 1.0


def test_mmbench_circular_eval_needs_every_copy_right():
    rows = [{"index": 1, "prediction": "A", "answer": "A", "A": "cat", "B": "dog"},
            {"index": 1_000_001, "prediction": "B", "answer": "B", "A": "dog", "B": "cat"},
            {"index": 2, "prediction": "A", "answer": "A", "A": "x", "B": "y"},
            {"index": 1_000_002, "prediction": "A", "answer": "B", "A": "y", "B": "x"}]
    r = mmbench.circular_eval(rows)
    assert r["circular_accuracy"] == 0.5 and r["vanilla_accuracy"] == 1.0 and r["per_row_accuracy"] == 0.75


@pytest.mark.parametrize("pred,letter", [("B", "B"), ("B. dog", "B"), ("(C) x", "C"), ("dog", "B"), ("maybe", None)])
def test_mmbench_option_extraction(pred, letter):
    assert mmbench.extract_option(pred, {"A": "cat", "B": "dog", "C": "x"}) == letter


def test_llava_wild_relative_score_and_unparseable_reviews():
    reviews = [{"category": "llava_bench_conv", "content": "8 6\nok"},
               {"category": "llava_bench_conv", "content": "9,9\nok"},
               {"category": "llava_bench_detail", "content": "no scores here"}]
    assert llava_wild.parse_review_scores("8 6\nblah") == (8.0, 6.0)
    assert llava_wild.parse_review_scores("Assistant 1: 8") is None
    assert llava_wild.parse_review_scores("9, 9") is None  # ", " becomes two spaces: three fields, as the reference
    r = llava_wild.score_reviews(reviews)
    assert r["relative"] == round(7.5 / 8.5 * 100, 1) and r["n_unparseable"] == 1


def test_mmvet_refuses_to_report_with_failed_grades():
    recs = [{"score": 1.0, "capabilities": ["rec"]}, {"score": 0.5, "capabilities": ["rec", "ocr"]}]
    r = mmvet.score(recs)
    assert r["total"] == 75.0 and r["capabilities"] == {"rec": 75.0, "ocr": 50.0}
    with pytest.raises(ValueError, match="no valid judge grade"):
        mmvet.score(recs + [{"score": None, "capabilities": ["rec"]}])
