import json

import pytest

from csr_eval.benchmarks import pope
from csr_eval.errors import InputError


@pytest.mark.parametrize("answer,is_yes", [
    ("Yes", True), ("No", False), ("no", False), ("Yes.", True), ("No, there is not.", False),
    ("There is not a dog.", False), ("Yes. No dog here.", True),  # only the first sentence counts
    ("NO", True), ("Not", True), ("There isn't", True), ("", True),  # case-sensitive whole words, as the reference
    ("No\nthere is", True),  # split on single spaces only: "No\nthere" is one word
    ("yes,no", True),  # commas are removed first: "yesno" is one word, not "no"
])
def test_parse_yes_no_follows_the_reference_rule(answer, is_yes):
    assert pope.parse_yes_no(answer) is is_yes


def test_confusion_metrics_hand_computed():
    labels = [True, True, True, False, False, False, False, True]
    preds = [True, True, False, True, False, False, False, True]
    m = pope.confusion_metrics(labels, preds)
    assert (m.tp, m.fp, m.tn, m.fn) == (3, 1, 3, 1)
    assert m.accuracy == 6 / 8
    assert m.precision == 3 / 4 and m.recall == 3 / 4 and m.f1 == pytest.approx(0.75)
    assert m.yes_ratio == 4 / 8  # share of predicted yes, not of labels


def test_zero_division_gives_zero_not_an_exception():
    m = pope.confusion_metrics([False, False], [False, False])
    assert m.precision == 0.0 and m.recall == 0.0 and m.f1 == 0.0 and m.accuracy == 1.0


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def tiny(tmp_path):
    labels = [{"question_id": 1, "image": "a.jpg", "text": "Is there a dog in the image?", "label": "yes"},
              {"question_id": 2, "image": "a.jpg", "text": "Is there a cat in the image?", "label": "no"}]
    _write_jsonl(tmp_path / "coco_pope_random.json", labels)
    questions = [{"question_id": 10 + i, "text": l["text"] + "\nAnswer briefly.", "category": "random"}
                 for i, l in enumerate(labels)]
    q = _write_jsonl(tmp_path / "q.jsonl", questions)
    return tmp_path, q


def test_answers_matched_by_question_id_not_position(tiny):
    d, q = tiny
    a = _write_jsonl(d / "a.jsonl", [{"question_id": 11, "text": "No"}, {"question_id": 10, "text": "Yes"}])
    result = pope.score_files(d, q, a)
    assert result.splits["random"].accuracy == 1.0


def test_missing_answer_is_an_error_naming_the_question(tiny):
    d, q = tiny
    a = _write_jsonl(d / "a.jsonl", [{"question_id": 10, "text": "Yes"}])
    with pytest.raises(InputError, match="no answer for question_id 11"):
        pope.score_files(d, q, a)
    result = pope.score_files(d, q, a, allow_missing=True)
    assert result.coverage["random"] == 0.5 and result.to_dict()["coverage"]["random"] == 0.5


def test_unknown_and_duplicate_ids_and_malformed_lines_are_errors(tiny):
    d, q = tiny
    with pytest.raises(InputError, match="question_id 99 is not in the question file"):
        pope.score_files(d, q, _write_jsonl(d / "a.jsonl", [{"question_id": 99, "text": "Yes"}]))
    with pytest.raises(InputError, match=r"a2.jsonl:2: duplicate answer"):
        pope.score_files(d, q, _write_jsonl(d / "a2.jsonl", [{"question_id": 10, "text": "Yes"}] * 2))
    bad = d / "a3.jsonl"
    bad.write_text('{"question_id": 10, "text": "Yes"}\n{oops\n')
    with pytest.raises(InputError, match=r"a3.jsonl:2: not valid JSON"):
        pope.score_files(d, q, bad)


def test_empty_file_and_missing_split_are_errors(tiny):
    d, q = tiny
    (d / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="empty"):
        pope.score_files(d, q, d / "empty.jsonl")
    with pytest.raises(InputError, match="coco_pope_popular.json: label file for split 'popular' not found"):
        pope.score_files(d, q, _write_jsonl(d / "a.jsonl", [{"question_id": 10, "text": "Yes"}]), splits=["popular"])


def test_question_text_must_agree_with_the_label_line(tiny):
    d, q = tiny
    lines = q.read_text().splitlines()
    q.write_text("\n".join(reversed(lines)) + "\n")  # shuffled question file: alignment would shift
    with pytest.raises(InputError, match="does not match line"):
        pope.score_files(d, q, _write_jsonl(d / "a.jsonl", [{"question_id": 10, "text": "Yes"},
                                                             {"question_id": 11, "text": "No"}]))
