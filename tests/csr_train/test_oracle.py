"""The ground-truth judge (reward.kind: oracle) on hand-built sentences and a hand-built annotation file."""

from __future__ import annotations

import json

import pytest

from csr_eval.errors import InputError
from csr_train.oracle import OracleJudge, grid_cell


@pytest.fixture
def annotations(tmp_path):
    """One 64×64 micro-world image: a dog in the top-left cell, a frisbee in the centre."""
    cats = [{"id": 18, "name": "dog"}, {"id": 34, "name": "frisbee"}, {"id": 15, "name": "bench"}]
    data = {"images": [{"id": 1, "file_name": "park.png", "width": 64, "height": 64}], "categories": cats,
            "annotations": [{"id": 1, "image_id": 1, "category_id": 18, "bbox": [2, 3, 14, 14]},
                            {"id": 2, "image_id": 1, "category_id": 34, "bbox": [25, 24, 15, 15]}]}
    (tmp_path / "instances_csr.json").write_text(json.dumps(data))
    return tmp_path


def test_grid_cells_follow_box_centres():
    assert grid_cell([2, 3, 14, 14], 64, 64) == "top left"
    assert grid_cell([25, 24, 15, 15], 64, 64) == "center"
    assert grid_cell([50, 50, 14, 14], 64, 64) == "bottom right"
    assert grid_cell([60, 0, 4, 4], 64, 64) == "top right"


def test_sentence_scores_present_absent_repeated(annotations):
    judge = OracleJudge(annotations)
    truth = judge.truth("some/folder/park.png")
    assert truth.objects == {"dog", "frisbee"} and truth.cells == {"dog": {"top left"}, "frisbee": {"center"}}
    assert judge.sentence_score(truth, "There is a dog at the top left.") == 100
    assert judge.sentence_score(truth, "There is a bench at the bottom.") == -200  # absent
    assert judge.sentence_score(truth, "A dog and a bench.") == -100  # one of each
    assert judge.sentence_score(truth, "The scene is calm.") == 0  # no object
    earlier = ["There is a dog at the top left."]
    assert judge.sentence_score(truth, "A dog is at the right.", earlier) == -50  # said before
    assert judge.sentence_score(truth, "A frisbee is in the center.", earlier) == 100
    # summed over a response: distinct true objects − 2 × absent − 0.5 × repeats (in hundreds)
    response = ["There is a dog at the top left.", "A dog is at the right.", "A bench is at the bottom."]
    total = sum(judge.sentence_score(truth, s, response[:i]) for i, s in enumerate(response))
    assert total == 100 * (1 - 2 * 1 - 0.5 * 1)


def test_positions_make_a_misplaced_object_wrong(annotations):
    judge = OracleJudge(annotations, positions=True)
    truth = judge.truth("park.png")
    assert judge.sentence_score(truth, "There is a dog at the top left.") == 100
    assert judge.sentence_score(truth, "There is a dog at the bottom right.") == -200
    assert judge.sentence_score(truth, "A frisbee is in the center.") == 100
    assert judge.sentence_score(truth, "There is a dog.") == 100  # no position stated: presence only


def test_unknown_image_and_missing_annotations_are_named(annotations, tmp_path):
    with pytest.raises(InputError, match="other.png: image not in the oracle's annotations"):
        OracleJudge(annotations).truth("other.png")
    with pytest.raises(InputError, match="needs COCO instances"):
        OracleJudge(tmp_path / "nothing-here")


def test_oracle_config_needs_annotations():
    from csr_train.config import load_csr_config
    with pytest.raises(InputError, match="data.annotations"):
        load_csr_config("configs/micro.yaml", ["reward.kind=oracle", "data.annotations="])
    assert load_csr_config("configs/micro.yaml", ["reward.kind=oracle"]).reward.kind == "oracle"
