"""Micro-world benchmarks in the schemas of lmms-eval's hub datasets, for running its tasks offline.

A local folder ``DIR/data/test-00000-of-00001.parquet`` is what a hub snapshot of lmms-lab's datasets looks
like, so pointing a benchmark's ``path`` (``configs/data.yaml``) at it runs lmms-eval's own task, prompts and
parsing on it unchanged.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image

from csr_eval.micro.language import CHAIR_PROMPT
from csr_eval.micro.world import CATEGORIES


def _val_images(world: Path, n: int) -> list[tuple[dict, list[str]]]:
    coco = json.loads((Path(world) / "annotations" / "instances_val.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    objects: dict[int, list] = {}
    for a in coco["annotations"]:
        objects.setdefault(a["image_id"], []).append(names[a["category_id"]])
    return [(image, objects.get(image["id"], [])) for image in coco["images"][:n]]


def _open(world: Path, image: dict) -> Image.Image:
    with Image.open(Path(world) / "images" / "val" / image["file_name"]) as picture:
        return picture.convert("RGB")


def _write(out: Path, split: str, tables: dict[str, tuple[list[dict], object]]) -> Path:
    """Parquet as in a hub snapshot: ``data/<split>-*.parquet``, or one ``<config>/<split>-*.parquet`` per config,
    declared in the README's ``configs:`` block (how the hub names configs such as ScienceQA-IMG).
    ``tables``: folder (``data`` or a config name) -> (rows, features)."""
    from datasets import Dataset

    out = Path(out)
    for folder, (rows, features) in tables.items():
        (out / folder).mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows, features=features).to_parquet(str(out / folder / f"{split}-00000-of-00001.parquet"))
    configs = [c for c in tables if c != "data"]
    if configs:
        declared = "".join(f"- config_name: {c}\n  data_files:\n  - split: {split}\n    path: {c}/{split}-*\n"
                           for c in configs)
        (out / "README.md").write_text(f"---\nconfigs:\n{declared}---\nMicro-world copy in the schema of the hub "
                                       "dataset.\n")
    return out


def _choices(rng: random.Random, present: list[str], k: int) -> tuple[list[str], str]:
    target = rng.choice(present)
    choices = rng.sample([c.name for c in CATEGORIES if c.name not in present], k - 1) + [target]
    rng.shuffle(choices)
    return choices, target


def seed_bench(world: Path, out: Path, n: int = 40, seed: int = 0) -> Path:
    """SEED-Bench schema: question, choice_a..d, answer letter, data_type, question_type_id, image list."""
    from datasets import Features, Image as ImageFeature, Sequence, Value

    rng = random.Random(f"micro-seed/{seed}")
    rows = []
    for image, present in _val_images(world, n):
        choices, target = _choices(rng, present, 4)
        rows.append({"question_id": str(image["id"]), "question": "Which of these objects is in the image?",
                     **{f"choice_{letter}": c for letter, c in zip("abcd", choices)},
                     "answer": "ABCD"[choices.index(target)], "data_type": "image", "question_type_id": 1,
                     "image": [_open(world, image)]})
    string = Value("string")
    features = Features({"question_id": string, "question": string, "choice_a": string, "choice_b": string,
                         "choice_c": string, "choice_d": string, "answer": string, "data_type": string,
                         "question_type_id": Value("int64"), "image": Sequence(ImageFeature())})
    return _write(out, "test", {"data": (rows, features)})


def scienceqa_img(world: Path, out: Path, n: int = 40, seed: int = 0) -> Path:
    """ScienceQA-IMG schema: hint, question, choices (list), answer (index), image."""
    from datasets import Features, Image as ImageFeature, Sequence, Value

    rng = random.Random(f"micro-sqa/{seed}")
    rows = []
    for image, present in _val_images(world, n):
        choices, target = _choices(rng, present, rng.randint(2, 4))
        rows.append({"hint": "", "question": "Which of these objects is in the picture?", "choices": choices,
                     "answer": choices.index(target), "image": _open(world, image)})
    features = Features({"hint": Value("string"), "question": Value("string"), "choices": Sequence(Value("string")),
                         "answer": Value("int64"), "image": ImageFeature()})
    return _write(out, "test", {"ScienceQA-IMG": (rows, features)})


def vizwiz_vqa(world: Path, out: Path, n: int = 40, seed: int = 0) -> Path:
    """VizWiz-VQA schema: question_id, question, answers (ten human answers), answer, image."""
    from datasets import Features, Image as ImageFeature, Sequence, Value

    rows = []
    for image, present in _val_images(world, n):
        rows.append({"question_id": str(image["id"]), "question": "what is the first object in this picture?",
                     "answers": [present[0]] * 10, "answer": present[0], "image": _open(world, image)})
    features = Features({"question_id": Value("string"), "question": Value("string"),
                         "answers": Sequence(Value("string")), "answer": Value("string"), "image": ImageFeature()})
    return _write(out, "val", {"data": (rows, features)})


def mmbench_dev(world: Path, out: Path, n: int = 20, seed: int = 0) -> Path:
    """MMBench schema (config ``en``, split ``dev``) with CircularEval copies: index + k·1,000,000 holds the
    options rotated k times, as the dev TSV does."""
    from datasets import Features, Image as ImageFeature, Value

    rng = random.Random(f"micro-mmbench/{seed}")
    rows = []
    for i, (image, present) in enumerate(_val_images(world, n)):
        choices, target = _choices(rng, present, 4)
        picture = _open(world, image)
        for k in range(4):
            rotated = choices[k:] + choices[:k]
            rows.append({"index": i + k * 1_000_000, "question": "Which of these objects is in the image?",
                         "hint": "nan", "A": rotated[0], "B": rotated[1], "C": rotated[2], "D": rotated[3],
                         "answer": "ABCD"[rotated.index(target)], "category": "object_localization",
                         "L2-category": "finegrained_perception (instance-level)", "source": "micro-world",
                         "split": "dev", "comment": "nan", "image": picture})
    string = Value("string")
    features = Features({"index": Value("int64"), "question": string, "hint": string, "A": string, "B": string,
                         "C": string, "D": string, "answer": string, "category": string, "L2-category": string,
                         "source": string, "split": string, "comment": string, "image": ImageFeature()})
    return _write(out, "dev", {"en": (rows, features)})


def gqa_testdev(world: Path, out: Path, n: int = 20, seed: int = 0) -> Path:
    """GQA schema: config ``testdev_balanced_instructions`` (id, imageId, question, answer, fullAnswer) and
    config ``testdev_balanced_images`` (id, image), both split ``testdev``, declared in the README."""
    from datasets import Features, Image as ImageFeature, Value

    questions, images = [], []
    for image, present in _val_images(world, n):
        image_id = f"micro{image['id']}"
        questions.append({"id": str(image["id"]), "imageId": image_id, "question": "What is the first object?",
                          "answer": present[0], "fullAnswer": f"The first object is a {present[0]}."})
        images.append({"id": image_id, "image": _open(world, image)})
    string = Value("string")
    return _write(out, "testdev", {
        "testdev_balanced_instructions": (questions, Features({"id": string, "imageId": string, "question": string,
                                                               "answer": string, "fullAnswer": string})),
        "testdev_balanced_images": (images, Features({"id": string, "image": ImageFeature()}))})


def llava_bench_wild(world: Path, out: Path, n: int = 6) -> Path:
    """LLaVA-Bench-in-the-Wild schema (split ``train``): question_id, question, image, caption, gpt_answer
    (the reference answer the judge compares with), category in conv / detail / complex."""
    from datasets import Features, Image as ImageFeature, Value

    categories = ("conv", "detail", "complex")
    rows = []
    for i, (image, present) in enumerate(_val_images(world, n)):
        names = ", ".join(present)
        rows.append({"question_id": i, "question": CHAIR_PROMPT if i % 3 == 1 else "What objects are in the image?",
                     "image": _open(world, image), "caption": f"A drawing with {names}.",
                     "gpt_answer": f"The image shows {names}.", "category": categories[i % 3]})
    string = Value("string")
    features = Features({"question_id": Value("int64"), "question": string, "image": ImageFeature(),
                         "caption": string, "gpt_answer": string, "category": string})
    return _write(out, "train", {"data": (rows, features)})


def mm_vet(world: Path, out: Path, n: int = 4) -> Path:
    """MM-Vet schema (split ``test``): question_id, question, answer (with <AND>/<OR>), capability, image."""
    from datasets import Features, Image as ImageFeature, Sequence, Value

    rows = []
    for image, present in _val_images(world, n):
        rows.append({"question_id": f"v1_{image['id']}", "question": "Which objects are in the image?",
                     "answer": "<AND>".join(present), "capability": ["rec"], "image": _open(world, image)})
    string = Value("string")
    features = Features({"question_id": string, "question": string, "answer": string,
                         "capability": Sequence(string), "image": ImageFeature()})
    return _write(out, "test", {"data": (rows, features)})
