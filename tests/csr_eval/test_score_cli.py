"""The ``csr-eval score`` contracts, run as a user runs them (a subprocess of the installed entry point)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"


def csr_eval(*args):
    return subprocess.run([sys.executable, "-m", "csr_eval", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO_ROOT)


def test_pope_json_contract_on_shipped_example():
    p = csr_eval("score", "pope", "--annotation-dir", EXAMPLES / "pope", "--question-file",
                 EXAMPLES / "pope/questions.jsonl", "--result-file", EXAMPLES / "pope/answers.jsonl", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)  # exactly one JSON object on stdout
    assert set(data) == {"adversarial", "popular", "random", "mean_f1"}
    for split in ("adversarial", "popular", "random"):
        assert set(data[split]) >= {"tp", "fp", "tn", "fn", "accuracy", "precision", "recall", "f1", "yes_ratio"}
        assert 0 <= data[split]["f1"] <= 1
    assert data["mean_f1"] == pytest.approx(sum(data[s]["f1"] for s in ("adversarial", "popular", "random")) / 3)


def test_chair_json_contract_on_shipped_example():
    p = csr_eval("score", "chair", "--captions", EXAMPLES / "chair/captions.jsonl", "--coco-annotations",
                 EXAMPLES / "chair/annotations", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert {"chair_s", "chair_i", "recall", "mean_length", "n_captions", "per_caption"} <= set(data)
    by_image = {c["image_id"]: c for c in data["per_caption"]}
    # image 1: man, dog, frisbee are true, the bench is not; image 2: "bus" is never detected (bu), cars are
    # true, the traffic light is not; image 3: cup and table true, fork hallucinated
    assert by_image[1]["hallucinated"] == ["bench"]
    assert by_image[2]["hallucinated"] == ["traffic light"] and "bus" not in by_image[2]["mentioned"]
    assert by_image[3]["hallucinated"] == ["fork"]
    assert data["chair_s"] == 1.0 and data["chair_i"] == pytest.approx(3 / 9)


def test_mme_json_contract_on_shipped_example():
    p = csr_eval("score", "mme", "--results-dir", EXAMPLES / "mme", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    # existence: 3/4 right, 1/2 images both right -> 75 + 50; count: 2/2 and 1/1 -> 200
    assert data["subtasks"] == {"existence": 125.0, "count": 200.0}
    assert data["perception"] == 325.0 and data["cognition"] == 0


def test_readable_table_without_json():
    p = csr_eval("score", "mme", "--results-dir", EXAMPLES / "mme")
    assert p.returncode == 0 and "perception: 325.00" in p.stdout


def test_bad_input_exits_non_zero_and_names_the_file(tmp_path):
    bad = tmp_path / "answers.jsonl"
    bad.write_text('{"question_id": 1, "text": "Yes"}\nnot json\n')
    p = csr_eval("score", "pope", "--annotation-dir", EXAMPLES / "pope", "--question-file",
                 EXAMPLES / "pope/questions.jsonl", "--result-file", bad, "--json")
    assert p.returncode == 2 and p.stdout == ""
    assert f"{bad}:2: not valid JSON" in p.stderr
    p = csr_eval("score", "mme", "--results-dir", tmp_path / "nowhere")
    assert p.returncode == 2 and "MME results folder not found" in p.stderr


@pytest.mark.parity
def test_contracts_on_reference_files(reference_dir):
    r = reference_dir
    p = csr_eval("score", "pope", "--annotation-dir", r / "pope/coco", "--question-file",
                 r / "pope/llava_pope_test.jsonl", "--result-file", r / "pope/answers/llava-v1.5-13b.jsonl", "--json")
    assert round(json.loads(p.stdout)["mean_f1"], 4) == 0.8595
    p = csr_eval("score", "mme", "--results-dir", r / "mme/results_llava-v1.5-13b", "--json")
    data = json.loads(p.stdout)
    assert (round(data["perception"], 2), round(data["cognition"], 2)) == (1531.32, 295.36)
    p = csr_eval("score", "chair", "--captions", r / "chair/captions/llava-1.5_beam5.jsonl", "--coco-annotations",
                 r / "chair/opera500/annotations", "--json")
    data = json.loads(p.stdout)
    assert (data["chair_s"], round(data["chair_i"], 4), len(data["per_caption"])) == (0.49, 0.139, 500)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gqa_seed_vizwiz_sqa_contracts(tmp_path):
    answers = _jsonl(tmp_path / "a.jsonl", [{"question_id": "q1", "text": "Red."}, {"question_id": "q2", "text": "two"}])
    (tmp_path / "gqa.json").write_text(json.dumps({"q1": {"answer": "red"}, "q2": {"answer": "3"}}))
    p = csr_eval("score", "gqa", "--questions", tmp_path / "gqa.json", "--result-file", answers, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["accuracy"] == 0.5
    (tmp_path / "viz.json").write_text(json.dumps([{"question_id": "q1", "answers": ["red"] * 10},
                                                   {"question_id": "q2", "answers": [{"answer": "2"}] * 10}]))
    p = csr_eval("score", "vizwiz", "--annotation", tmp_path / "viz.json", "--result-file", answers, "--json")
    assert json.loads(p.stdout)["accuracy"] == 1.0  # "Red." -> red, "two" -> 2
    (tmp_path / "seed.json").write_text(json.dumps({"questions": [{"question_id": "q1", "answer": "A"},
                                                                  {"question_id": "q2", "answer": "B"},
                                                                  {"question_id": "q3", "answer": "C"}]}))
    p = csr_eval("score", "seed", "--annotation", tmp_path / "seed.json", "--result-file", answers, "--json")
    assert p.returncode == 2 and "1 of 3 questions" in p.stderr and "--allow-missing" in p.stderr
    p = csr_eval("score", "seed", "--annotation", tmp_path / "seed.json", "--result-file", answers, "--json",
                 "--allow-missing")
    assert json.loads(p.stdout)["coverage"] == pytest.approx(2 / 3)
    (tmp_path / "problems.json").write_text(json.dumps({
        "q1": {"choices": ["a", "b"], "answer": 0, "image": "x.png", "split": "test"},
        "q2": {"choices": ["a", "b"], "answer": 1, "image": None, "split": "test"},
        "q9": {"choices": ["a", "b"], "answer": 1, "image": None, "split": "val"}}))
    sqa_answers = _jsonl(tmp_path / "s.jsonl", [{"question_id": "q1", "text": "A"}, {"question_id": "q2", "text": "A"}])
    p = csr_eval("score", "sqa", "--problems", tmp_path / "problems.json", "--result-file", sqa_answers, "--json")
    data = json.loads(p.stdout)
    assert (data["img_accuracy"], data["accuracy"], data["n"]) == (1.0, 0.5, 2)


def test_chair_duplicate_images_refused_by_default_scored_per_line_on_request(tmp_path):
    """The reference chair.py scores every line, several captions of one image included; we refuse a
    repeated image id unless asked, and the error says how to ask."""
    rows = [json.loads(line) for line in (EXAMPLES / "chair/captions.jsonl").read_text().splitlines()]
    first = rows[0]["image_id"]
    clean = {**rows[0], "caption": "A picture."}  # a second sampled caption of the first image, no objects
    caps = _jsonl(tmp_path / "sampled.jsonl", rows + [clean])
    p = csr_eval("score", "chair", "--captions", caps, "--coco-annotations", EXAMPLES / "chair/annotations")
    assert p.returncode == 2
    assert f"sampled.jsonl:{len(rows) + 1}: duplicate image id {first}" in p.stderr
    assert "--allow-duplicate-images" in p.stderr
    p = csr_eval("score", "chair", "--captions", caps, "--coco-annotations", EXAMPLES / "chair/annotations",
                 "--allow-duplicate-images", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["n_captions"] == len(rows) + 1 == len(data["per_caption"])
    assert data["chair_s"] == pytest.approx(len(rows) / (len(rows) + 1))  # every example caption hallucinates
    assert [c["image_id"] for c in data["per_caption"]].count(first) == 2
