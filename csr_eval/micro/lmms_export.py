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

from csr_eval.micro.world import CATEGORIES


def seed_bench(world: Path, out: Path, n: int = 40, seed: int = 0) -> Path:
    """SEED-Bench schema: question, choice_a..d, answer letter, data_type, question_type_id, image list."""
    from datasets import Dataset, Features, Image as ImageFeature, Sequence, Value

    world, out = Path(world), Path(out)
    coco = json.loads((world / "annotations" / "instances_val.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    objects: dict[int, list] = {}
    for a in coco["annotations"]:
        objects.setdefault(a["image_id"], []).append(names[a["category_id"]])
    rng = random.Random(f"micro-seed/{seed}")
    rows = []
    for image in coco["images"][:n]:
        present = objects.get(image["id"], [])
        target = rng.choice(present)
        others = rng.sample([c.name for c in CATEGORIES if c.name not in present], 3)
        choices = others + [target]
        rng.shuffle(choices)
        with Image.open(world / "images" / "val" / image["file_name"]) as picture:
            rows.append({"question_id": str(image["id"]), "question": "Which of these objects is in the image?",
                         "choice_a": choices[0], "choice_b": choices[1], "choice_c": choices[2], "choice_d": choices[3],
                         "answer": "ABCD"[choices.index(target)], "data_type": "image", "question_type_id": 1,
                         "image": [picture.convert("RGB")]})
    features = Features({"question_id": Value("string"), "question": Value("string"), "choice_a": Value("string"),
                         "choice_b": Value("string"), "choice_c": Value("string"), "choice_d": Value("string"),
                         "answer": Value("string"), "data_type": Value("string"), "question_type_id": Value("int64"),
                         "image": Sequence(ImageFeature())})
    (out / "data").mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows, features=features).to_parquet(str(out / "data" / "test-00000-of-00001.parquet"))
    return out
