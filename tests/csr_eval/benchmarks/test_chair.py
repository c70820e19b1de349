import json

import pytest

from csr_eval.benchmarks import chair
from csr_eval.benchmarks.chair import ChairEvaluator, CocoObjectVocabulary, caption_objects
from csr_eval.errors import InputError

VOCAB = CocoObjectVocabulary.reference()


def nodes(caption):
    return caption_objects(caption, VOCAB).node_words


def test_synonym_table_quirks_are_kept():
    assert len(VOCAB.node_words) == 80
    assert VOCAB.synonyms["table"] == "dining table" and VOCAB.synonyms["man"] == "person"
    assert " motor bike" in VOCAB.synonyms and "motor bike" not in VOCAB.synonyms  # double space entry
    assert "cheesecake" not in VOCAB.synonyms  # 'cake,  cheesecake' -> ' cheesecake'
    assert nodes("an iphone on a desk.") == ["dining table"]  # 'iPhone' never matches lower-cased text


@pytest.mark.parametrize("caption,expected", [
    ("A man rides a bus.", ["person"]),  # "bus" -> "bu": a singular bus is never detected
    ("Two buses on the road.", ["bus"]),
    ("A baby elephant next to an adult elephant.", ["elephant", "elephant"]),  # not person
    ("A passenger train at the station.", ["train"]),  # not person
    ("A batter stands at home plate.", []),  # 'plate' inside 'home plate' does not fire
    ("Cars parked by the train track.", ["car"]),
    ("A toilet with the seat up.", ["toilet"]),  # 'seat' dropped when toilet is present
    ("A toilet seat.", ["toilet"]),
    ("A wine glass on the table.", ["wine glass", "dining table"]),  # via 'wine glas'
    ("A man wearing a bow tie.", ["person", "tie"]),
    ("A hot dog and a dog.", ["hot dog", "dog"]),
    ("People sitting at tables.", ["person", "dining table"]),
])
def test_caption_objects_reference_rules(caption, expected):
    assert nodes(caption) == expected


def test_metrics_hand_computed():
    truth = {1: {"dog", "person"}, 2: {"car"}}
    ev = ChairEvaluator(truth, VOCAB)
    r = ev.score([(1, "A man and a dog and a cat."), (2, "A car.")])
    # image 1: mentions person, dog, cat -> cat hallucinated; image 2: car, fine
    assert r.chair_s == 0.5
    assert r.chair_i == pytest.approx(1 / 4)
    assert r.recall == pytest.approx(3 / 3)
    first = r.per_caption[0]
    assert first.hallucinated == ["cat"] and first.hallucinated_words == ["cat"]
    assert first.tokens[first.hallucination_token_indices[0]] == "cat"
    assert first.recalled == ["dog", "person"]


def _coco_dir(tmp_path, captions=True):
    d = tmp_path / "ann"
    d.mkdir(parents=True)
    cats = [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 34, "name": "frisbee"}]
    images = [{"id": 7, "file_name": "a.jpg"}, {"id": 8, "file_name": "b.jpg"}]
    (d / "instances_val2014.json").write_text(json.dumps({"images": images, "categories": cats, "annotations": [
        {"id": 1, "image_id": 7, "category_id": 18, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0}]}))
    if captions:
        (d / "captions_val2014.json").write_text(json.dumps({"images": images, "annotations": [
            {"id": 1, "image_id": 7, "caption": "A woman throws a frisbee to her dog."}]}))
    return d


def test_ground_truth_merges_instances_and_reference_captions(tmp_path):
    d = _coco_dir(tmp_path)
    truth = chair.load_coco_ground_truth(d, VOCAB)
    assert truth == {7: {"dog", "person", "frisbee"}, 8: set()}
    truth = chair.load_coco_ground_truth(_coco_dir(tmp_path / "x", captions=False), VOCAB)
    assert truth[7] == {"dog"}  # works with whichever files exist


def test_score_files_errors_name_file_and_line(tmp_path):
    d = _coco_dir(tmp_path)
    caps = tmp_path / "caps.jsonl"
    caps.write_text('{"image_id": 7, "caption": "A dog."}\n{"image_id": 99, "caption": "A cat."}\n')
    with pytest.raises(InputError, match=r"caps.jsonl:2: image id 99 is not in any annotation file"):
        chair.score_files(caps, d)
    caps.write_text('{"image_id": 7, "caption": "A dog."}\n{"image_id": 7, "caption": "A cat."}\n')
    with pytest.raises(InputError, match=r"caps.jsonl:2: duplicate image id 7"):
        chair.score_files(caps, d)
    caps.write_text('{"image_id": 7}\n')
    with pytest.raises(InputError, match=r"caps.jsonl:1: missing field"):
        chair.score_files(caps, d)
    caps.write_text('[{"image_id": 7, "caption": "A dog and a cat."}]')  # a json list works too
    assert chair.score_files(caps, d).chair_s == 1.0
    with pytest.raises(InputError, match="no instances_"):
        chair.score_files(caps, tmp_path)
    (d / "instances_val2014.json").write_text("{not json")
    with pytest.raises(InputError, match="instances_val2014.json: not a loadable COCO annotation file"):
        chair.score_files(caps, d)


@pytest.mark.parametrize("caption, expected", [
    ("A Man rides past two \"traffic lights\".", [("Man", "person"), ("traffic lights", "traffic light")]),
    ("A toilet seat, and dogs near a wine glass.", [("toilet seat", "toilet"), ("dogs", "dog"),
                                                     ("wine glass", "wine glass")]),
    ("People sitting at tables.", [("People", "person"), ("tables", "dining table")]),
])
def test_object_spans_point_at_the_words_as_written(caption, expected):
    """The dashboard colours these spans: each must cover the caption's own text of the word CHAIR counted."""
    found = caption_objects(caption, CocoObjectVocabulary.reference())
    assert [(caption[a:b], node) for (a, b), node in zip(found.spans, found.node_words)] == expected
