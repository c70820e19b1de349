"""The micro-world export: deterministic, loadable by the real tools, and true to POPE's and MME's rules."""

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from csr_eval.benchmarks import chair, mme, pope
from csr_eval.errors import InputError
from csr_eval.micro import export
from csr_eval.micro.language import detailed_description

SIZES = dict(n_train=30, n_csr=12, n_val=40, pope_images=20, mme_images=10)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return export.build(tmp_path_factory.mktemp("w") / "micro", seed=3, **SIZES)


def test_same_seed_same_bytes_and_other_seed_differs(world, tmp_path):
    again = export.build(tmp_path / "again", seed=3, **SIZES)
    assert _digest(world) == _digest(again)
    other = export.build(tmp_path / "other", seed=4, **SIZES)
    assert _digest(other) != _digest(world)


def test_splits_are_disjoint_and_coco_loads(world):
    from pycocotools.coco import COCO

    ids = {}
    for split in export.SPLITS:
        coco = COCO(str(world / "annotations" / f"instances_{split}.json"))
        caps = COCO(str(world / "annotations" / f"captions_{split}.json"))
        ids[split] = set(coco.getImgIds())
        assert len(ids[split]) == SIZES[f"n_{split}"]
        assert {c["name"] for c in coco.loadCats(coco.getCatIds())} >= {"person", "dog", "dining table", "tv"}
        assert coco.loadCats([18])[0]["name"] == "dog" and coco.loadCats([67])[0]["name"] == "dining table"
        for image_id in ids[split]:
            assert len(caps.getAnnIds(imgIds=[image_id])) == 5
            assert 1 <= len(coco.getAnnIds(imgIds=[image_id])) <= 4
        for image in coco.loadImgs(list(ids[split])):
            assert (world / "images" / split / image["file_name"]).is_file()
    assert not (ids["train"] & ids["csr"]) and not (ids["train"] & ids["val"]) and not (ids["csr"] & ids["val"])


def test_every_caption_names_only_annotated_objects(world):
    vocab = chair.CocoObjectVocabulary.reference()
    for split in export.SPLITS:
        truth = chair.load_coco_ground_truth(world / "annotations", vocab)
        instances = json.loads((world / "annotations" / f"instances_{split}.json").read_text())
        names = {c["id"]: c["name"] for c in instances["categories"]}
        annotated: dict[int, set] = {}
        for a in instances["annotations"]:
            annotated.setdefault(a["image_id"], set()).add(names[a["category_id"]])
        captions = json.loads((world / "annotations" / f"captions_{split}.json").read_text())
        for c in captions["annotations"]:
            found = set(chair.caption_objects(c["caption"], vocab).node_words)
            assert found == annotated[c["image_id"]], c["caption"]  # names all of them, and only them
        assert all(truth[i] == annotated[i] for i in annotated)


def test_detailed_descriptions_are_exact(world):
    vocab = chair.CocoObjectVocabulary.reference()
    prompts = json.loads((world / "llava_instruct_150k.json").read_text())
    assert len(prompts) == SIZES["n_csr"]
    instances = json.loads((world / "annotations" / "instances_csr.json").read_text())
    by_file = {i["file_name"]: i["id"] for i in instances["images"]}
    truth = chair.load_coco_ground_truth(world / "annotations", vocab)
    for item in prompts:
        human, gpt = item["conversations"]
        assert human["from"] == "human" and human["value"].startswith("<image>\n")
        assert (world / "images" / "csr" / item["image"]).is_file()
        for sentence in gpt["value"].split(". "):
            objects = chair.caption_objects(sentence, vocab).node_words
            assert len(objects) == 1 and objects[0] in truth[by_file[item["image"]]]


def test_pope_files_follow_pope_sampling(world):
    files = {s: pope.load_labels(world / "pope" / f"coco_pope_{s}.json") for s in pope.TABLE_ORDER}
    instances = json.loads((world / "annotations" / "instances_val.json").read_text())
    names = {c["id"]: c["name"] for c in instances["categories"]}
    by_file = {i["file_name"]: i["id"] for i in instances["images"]}
    truth: dict[int, list] = {}
    for a in instances["annotations"]:
        truth.setdefault(a["image_id"], []).append(names[a["category_id"]])
    pope_images = {by_file[l.image] for l in files["random"]}
    frequency = Counter(n for i in pope_images for n in truth[i])  # POPE counts over the images it polls
    for split, labels in files.items():
        assert len(labels) == 6 * SIZES["pope_images"] or len(labels) % 6 == 0
        keys = [(l.image, l.text) for l in labels]
        assert len(keys) == len(set(keys)), "duplicate or contradicting question"
        assert [l.label for l in labels[:6]] == [True, False] * 3  # alternating yes/no, as POPE
        for l in labels:
            obj = l.text[len("Is there a "):-len(" in the image?")].removeprefix("n ")
            assert (obj in truth[by_file[l.image]]) == l.label
    # popular: the negatives are the most frequent absent objects of the set
    for l in files["popular"]:
        if not l.label:
            obj = l.text[len("Is there a "):-len(" in the image?")].removeprefix("n ")
            present = set(truth[by_file[l.image]])
            more_frequent_absent = [n for n in frequency if n not in present and frequency[n] > frequency[obj]]
            assert len(more_frequent_absent) < 3
    # the LLaVA question file scores with the real scorer against the label files
    questions = world / "pope" / "llava_pope_test.jsonl"
    rows = [json.loads(x) for x in questions.read_text().splitlines()]
    answers = world / "answers.jsonl"
    answers.write_text("".join(json.dumps({"question_id": r["question_id"], "text": "Yes"}) + "\n" for r in rows))
    result = pope.score_files(world / "pope", questions, answers)
    assert result.splits["random"].recall == 1.0 and result.splits["random"].yes_ratio == 1.0


def test_mme_templates_have_one_yes_and_one_no_per_image(world):
    for subtask in export.MME_SUBTASKS:
        lines = (world / "mme" / f"{subtask}.txt").read_text().splitlines()
        assert len(lines) == 2 * SIZES["mme_images"]
        for a, b in zip(lines[::2], lines[1::2]):
            assert a.split("\t")[0] == b.split("\t")[0]
            assert [a.split("\t")[2], b.split("\t")[2]] == ["Yes", "No"]
    # a model that answers every question right scores 200 per subtask with the real scorer
    results = world / "mme_results"
    results.mkdir()
    for subtask in export.MME_SUBTASKS:
        lines = (world / "mme" / f"{subtask}.txt").read_text().splitlines()
        (results / f"{subtask}.txt").write_text("".join(f"{l}\t{l.split(chr(9))[2]}\n" for l in lines))
    assert mme.score_results_dir(results).perception == 800.0


def test_build_refuses_to_replace_a_foreign_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a micro-world build"):
        export.build(tmp_path, seed=0, n_train=1, n_csr=1, n_val=1)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_cli_builds(tmp_path):
    from csr_eval.cli import main

    assert main(["micro", "build", "--out", str(tmp_path / "w"), "--n-train", "3", "--n-csr", "2", "--n-val", "5"]) == 0
    meta = json.loads((tmp_path / "w" / "micro_world.json").read_text())
    assert meta["sizes"]["train"] == 3 and not list(tmp_path.glob("w.partial*"))


def test_two_builders_at_once_share_one_world(tmp_path):
    """Two csr-train runs started together both build the world: neither may break the other's files."""
    import threading

    from csr_eval.micro.export import build

    out = tmp_path / "w"
    first = build(out, seed=0, n_train=0, n_csr=4, n_val=3)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    inode = (out / "micro_world.json").stat().st_ino
    errors = []

    def again():
        try:
            build(out, seed=0, n_train=0, n_csr=4, n_val=3)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=again) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and first == out
    assert (out / "micro_world.json").stat().st_ino == inode  # the same world was kept, not replaced
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == files
    assert not list(tmp_path.glob("w.partial*"))


def test_description_reading_order():
    from csr_eval.micro.world import PlacedObject, Scene

    scene = Scene("park", (PlacedObject("dog", 0, (0, 0, 12, 12)), PlacedObject("bench", 4, (20, 20, 12, 12))), seed=1)
    assert detailed_description(scene) == "There is a dog at the top left. A bench is in the center."
