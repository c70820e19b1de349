"""``csr-eval micro check``: the measurement pipeline on a small world (docs/micro-world.md's numbers use 200 images)."""

import json

import pytest

pytest.importorskip("torch")

from csr_eval.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    base = tmp_path_factory.mktemp("check")
    assert main(["micro", "build", "--out", str(base / "world"), "--n-train", "0", "--n-csr", "0",
                 "--n-val", "24", "--pope-images", "8"]) == 0
    assert main(["micro", "check", "--world", str(base / "world"), "--out", str(base / "out"), "--json"]) == 0
    return base


def test_report_and_answer_files_are_consistent(checked, capsys):
    out = checked / "out"
    report = json.loads((out / "behaviour.json").read_text())
    captions = [json.loads(line) for line in (out / "chair_captions.jsonl").read_text().splitlines()]
    answers = [json.loads(line) for line in (out / "pope_answers.jsonl").read_text().splitlines()]
    assert len(captions) == report["chair"]["n_captions"] == 24
    assert len(answers) == 3 * report["pope"]["random"]["n"]
    assert report["pope"]["random"]["n"] == 6 * 8
    bad = report["chair"]["counts"]["hallucinated_captions"]
    assert report["chair"]["chair_s"] == bad / 24
    targets = report["targets"]
    assert set(targets) == {"chair_s", "chair_recall", "pope_random_accuracy",
                            "pope_f1_gap_random_minus_adversarial", "clip_present_over_absent_same_scene"}
    gap = report["pope"]["random"]["f1"] - report["pope"]["adversarial"]["f1"]
    assert targets["pope_f1_gap_random_minus_adversarial"]["value"] == pytest.approx(gap)
    assert all(isinstance(t["met"], bool) for t in targets.values())


def test_the_trained_model_answers_in_the_expected_forms(checked):
    out = checked / "out"
    answers = [json.loads(line)["text"] for line in (out / "pope_answers.jsonl").read_text().splitlines()]
    assert set(answers) <= {"Yes", "No"}
    report = json.loads((out / "behaviour.json").read_text())
    assert report["pope"]["random"]["accuracy"] > 0.6  # far from chance even on 48 questions
    assert report["chair"]["recall"] > 0.5
