import pytest

from csr_eval.benchmarks import mme
from csr_eval.benchmarks.mme import MmeQuestion
from csr_eval.errors import InputError


@pytest.mark.parametrize("prediction,parsed", [
    ("Yes", "yes"), ("no", "no"), ("Yes\n", "yes"), ("No, it is not.", "no"), ("Yes, there is", "yes"),
    ("Not really", "no"), ("None", "no"),  # "no" within the first four characters
    ("There is a dog", "other"), ("I think yes", "other"),  # only the first four characters are searched
    ("noyes", "no"),  # only the first four characters count: "noye" holds "no" but not "yes"
])
def test_parse_follows_calculation_py(prediction, parsed):
    assert mme.parse_yes_no(prediction) == parsed


def test_subtask_score_acc_and_acc_plus_hand_computed():
    qs = [MmeQuestion("a", "q", "yes", "Yes"), MmeQuestion("a", "q", "no", "No"),  # both right
          MmeQuestion("b", "q", "yes", "Yes"), MmeQuestion("b", "q", "no", "Yes"),  # one right
          MmeQuestion("c", "q", "yes", "maybe"), MmeQuestion("c", "q", "no", "No")]  # "other" is wrong
    s = mme.score_subtask(qs)
    assert s.acc == pytest.approx(4 / 6) and s.acc_plus == pytest.approx(1 / 3)
    assert s.score == pytest.approx(100 * 4 / 6 + 100 / 3) and s.other_num == 1


def test_perception_and_cognition_sum_their_subtasks(tmp_path):
    line = "img.png\tIs it? Please answer yes or no.\t{gt}\t{pred}\n"
    (tmp_path / "existence.txt").write_text(line.format(gt="Yes", pred="Yes") + line.format(gt="No", pred="No"))
    (tmp_path / "code_reasoning.txt").write_text(line.format(gt="Yes", pred="No") + line.format(gt="No", pred="No"))
    result = mme.score_results_dir(tmp_path)
    assert result.perception == 200.0 and result.cognition == 50.0
    assert "count" in result.to_dict()["missing_subtasks"]
    with pytest.raises(InputError, match="count.txt: subtask file missing"):
        mme.score_results_dir(tmp_path, require_all=True)


def test_bad_lines_name_file_and_line(tmp_path):
    (tmp_path / "count.txt").write_text("a.png\tq\tYes\tYes\nb.png\tq\tNo\n")
    with pytest.raises(InputError, match=r"count.txt:2: expected 4 tab-separated fields"):
        mme.score_results_dir(tmp_path)
    (tmp_path / "count.txt").write_text("a.png\tq\tYes\tYes\nb.png\tq\tNo\tNo\n")
    with pytest.raises(InputError, match=r"count.txt:2: the two questions of an image must be consecutive"):
        mme.score_results_dir(tmp_path)
    (tmp_path / "count.txt").write_text("a.png\tq\tMaybe\tYes\na.png\tq\tNo\tNo\n")
    with pytest.raises(InputError, match=r"count.txt:1: ground truth must be Yes or No"):
        mme.score_results_dir(tmp_path)
    (tmp_path / "count.txt").write_text("")
    with pytest.raises(InputError, match="count.txt: file is empty"):
        mme.score_results_dir(tmp_path)
