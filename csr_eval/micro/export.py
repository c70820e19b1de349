"""Write the micro-world in the real formats: COCO, LLaVA-Instruct, POPE and MME.

``csr-eval micro build --out DIR`` writes::

    DIR/micro_world.json                      seed, sizes, layout (written last: its presence = complete)
    DIR/images/{train,csr,val}/*.png
    DIR/annotations/instances_<split>.json    COCO instances (real category ids and names), pycocotools-loadable
    DIR/annotations/captions_<split>.json     five reference captions per image
    DIR/llava_instruct_150k.json              the CSR prompt set (csr split), LLaVA-Instruct format
    DIR/pope/coco_pope_{random,popular,adversarial}.json   POPE label files (jsonl), val split
    DIR/pope/llava_pope_test.jsonl            LLaVA-style question file for the three splits
    DIR/mme/<subtask>.txt                     MME template lines image<TAB>question<TAB>answer (val split)

The splits use disjoint images, image ids and random streams. The whole build is a pure function of the
seed and sizes: the same arguments give the same bytes. It is written to ``DIR.partial`` and renamed at
the end, so an interrupted build never looks complete.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from csr_eval.benchmarks import pope
from csr_eval.errors import InputError
from csr_eval.micro.language import (DETAIL_PROMPTS, SHORT_ANSWER_SUFFIX, detailed_description, pope_question,
                                     reference_captions)
from csr_eval.micro.world import (BY_NAME, CATEGORIES, COLOR_NAMES, IMAGE_SIZE, POSITIONS, SCENE_BY_NAME, Scene,
                                  render, sample_scene)

FORMAT_VERSION = 1
SPLITS = ("train", "csr", "val")
_ID_OFFSET = {"train": 1, "csr": 1_000_001, "val": 2_000_001}
POPE_ID_OFFSET = {"adversarial": 0, "random": 10_000_000, "popular": 20_000_000}  # as LLaVA's question file
POPE_OBJECTS_PER_IMAGE = 3
MME_SUBTASKS = ("existence", "count", "position", "color")


@dataclass(frozen=True)
class MicroImage:
    image_id: int
    file_name: str
    split: str
    scene: Scene


def split_rng(seed: int, split: str, purpose: str) -> random.Random:
    """An independent random stream per (seed, split, purpose): splits never share draws."""
    return random.Random(f"csr-micro/{seed}/{split}/{purpose}")


def sample_split(seed: int, split: str, n: int) -> list[MicroImage]:
    rng = split_rng(seed, split, "scenes")
    return [MicroImage(_ID_OFFSET[split] + i, f"micro_{split}_{i:06d}.png", split, sample_scene(rng)) for i in range(n)]


def coco_instances(images: list[MicroImage]) -> dict:
    annotations = []
    for image in images:
        for k, obj in enumerate(image.scene.objects):  # at most 4 objects: ids unique across splits
            x, y, w, h = obj.bbox
            annotations.append({"id": image.image_id * 10 + k, "image_id": image.image_id,
                                "category_id": BY_NAME[obj.category].coco_id, "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0})
    return {"info": {"description": "CSR toolkit micro-world", "version": str(FORMAT_VERSION)},
            "licenses": [], "images": _coco_images(images), "annotations": annotations,
            "categories": [{"id": c.coco_id, "name": c.name, "supercategory": "micro"}
                           for c in sorted(CATEGORIES, key=lambda c: c.coco_id)]}


def _coco_images(images: list[MicroImage]) -> list[dict]:
    return [{"id": i.image_id, "file_name": i.file_name, "width": IMAGE_SIZE, "height": IMAGE_SIZE,
             "scene": i.scene.scene_type} for i in images]


def coco_captions(images: list[MicroImage], seed: int, split: str) -> dict:
    rng = split_rng(seed, split, "captions")
    annotations = []
    for image in images:
        for caption in reference_captions(image.scene, rng):
            annotations.append({"id": len(annotations) + 1, "image_id": image.image_id, "caption": caption})
    return {"info": {"description": "CSR toolkit micro-world"}, "licenses": [], "images": _coco_images(images),
            "annotations": annotations}


def llava_instruct(images: list[MicroImage], seed: int) -> list[dict]:
    """The CSR prompt set: one detailed-description conversation per image, LLaVA-Instruct format."""
    rng = split_rng(seed, "csr", "prompts")
    out = []
    for image in images:
        prompt = rng.choice(DETAIL_PROMPTS)
        out.append({"id": Path(image.file_name).stem, "image": image.file_name,
                    "conversations": [{"from": "human", "value": f"<image>\n{prompt}"},
                                      {"from": "gpt", "value": detailed_description(image.scene)}]})
    return out


def pope_negatives(images: list[MicroImage], seed: int) -> dict[str, dict[int, list[str]]]:
    """POPE's three negative-sampling strategies over the evaluated images' ground truth.

    random: absent objects drawn uniformly; popular: the most frequent objects of the set that are absent;
    adversarial: the objects that co-occur most often with the image's ground-truth objects, absent.
    Each image gets as many negatives as positives (3).
    """
    frequency = Counter(name for image in images for name in image.scene.object_names)
    cooccurrence: Counter = Counter()
    for image in images:
        for a, b in combinations(sorted(set(image.scene.object_names)), 2):
            cooccurrence[(a, b)] += 1
            cooccurrence[(b, a)] += 1
    all_names = [c.name for c in CATEGORIES]
    rng = split_rng(seed, "val", "pope")
    out: dict[str, dict[int, list[str]]] = {s: {} for s in pope.TABLE_ORDER}
    for image in images:
        truth = set(image.scene.object_names)
        absent = [n for n in all_names if n not in truth]
        out["random"][image.image_id] = rng.sample(absent, POPE_OBJECTS_PER_IMAGE)
        popular = sorted(absent, key=lambda n: (-frequency[n], n))
        out["popular"][image.image_id] = popular[:POPE_OBJECTS_PER_IMAGE]
        co = sorted(absent, key=lambda n: (-sum(cooccurrence[(t, n)] for t in truth), -frequency[n], n))
        out["adversarial"][image.image_id] = co[:POPE_OBJECTS_PER_IMAGE]
    return out


def pope_files(images: list[MicroImage], seed: int, max_images: int) -> tuple[dict[str, list[dict]], list[dict]]:
    """Label files per split (3 yes + 3 no per image, alternating, as POPE) and LLaVA's question file."""
    eligible = [i for i in images if len(i.scene.objects) >= POPE_OBJECTS_PER_IMAGE][:max_images]
    negatives = pope_negatives(eligible, seed)
    labels: dict[str, list[dict]] = {}
    questions = []
    for split in pope.SPLITS:
        rows = []
        for image in eligible:
            positives = image.scene.object_names[:POPE_OBJECTS_PER_IMAGE]
            for pos, neg in zip(positives, negatives[split][image.image_id]):
                for name, label in ((pos, "yes"), (neg, "no")):
                    rows.append({"question_id": len(rows) + 1, "image": image.file_name,
                                 "text": pope_question(name), "label": label})
        labels[split] = rows
        questions += [{"question_id": POPE_ID_OFFSET[split] + r["question_id"], "image": r["image"],
                       "text": r["text"] + SHORT_ANSWER_SUFFIX, "category": split} for r in rows]
    return labels, questions


def mme_files(images: list[MicroImage], seed: int, max_images: int) -> dict[str, list[tuple[str, str, str]]]:
    """Two questions per image and subtask, one whose answer is Yes and one whose answer is No."""
    rng = split_rng(seed, "val", "mme")
    suffix = " Please answer yes or no."
    out: dict[str, list[tuple[str, str, str]]] = {s: [] for s in MME_SUBTASKS}
    for image in images[:max_images]:
        scene, f = image.scene, image.file_name
        target = rng.choice(scene.objects)
        absent = [n for n in SCENE_BY_NAME[scene.scene_type].objects if n not in scene.object_names] or \
                 [c.name for c in CATEGORIES if c.name not in scene.object_names]
        out["existence"] += [(f, f"Is there a {target.category} in this image?{suffix}", "Yes"),
                             (f, f"Is there a {rng.choice(absent)} in this image?{suffix}", "No")]
        n = len(scene.objects)
        wrong_n = rng.choice([k for k in (n - 1, n + 1) if k >= 1])
        out["count"] += [(f, f"Are there {n} objects in this image?{suffix}", "Yes"),
                         (f, f"Are there {wrong_n} objects in this image?{suffix}", "No")]
        other_cell = rng.choice([p for p in POSITIONS if p != target.position])
        out["position"] += [(f, f"Is the {target.category} at the {target.position} of the image?{suffix}", "Yes"),
                            (f, f"Is the {target.category} at the {other_cell} of the image?{suffix}", "No")]
        color = BY_NAME[target.category].color
        other_color = rng.choice([c for c in COLOR_NAMES if c != color])
        out["color"] += [(f, f"Is the {target.category} {color}?{suffix}", "Yes"),
                         (f, f"Is the {target.category} {other_color}?{suffix}", "No")]
    return out


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def build(out: str | Path, seed: int = 0, n_train: int = 2000, n_csr: int = 200, n_val: int = 200,
          pope_images: int = 100, mme_images: int = 60) -> Path:
    """Write the whole micro-world to ``out`` (replacing a previous build there) and return its path."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "micro_world.json").is_file():
        raise InputError(out, "exists and is not a micro-world build (no micro_world.json); refusing to replace it")
    # One partial folder per builder: two runs that build the same world at once (two csr-train runs started
    # together) must not write into each other's files.
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{out.name}.partial-", dir=out.parent))
    splits = {"train": sample_split(seed, "train", n_train), "csr": sample_split(seed, "csr", n_csr),
              "val": sample_split(seed, "val", n_val)}
    for split, images in splits.items():
        folder = partial / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        for image in images:
            render(image.scene).save(folder / image.file_name, format="PNG", optimize=False)
        if images:
            _write_json(partial / "annotations" / f"instances_{split}.json", coco_instances(images))
            _write_json(partial / "annotations" / f"captions_{split}.json", coco_captions(images, seed, split))
    _write_json(partial / "llava_instruct_150k.json", llava_instruct(splits["csr"], seed))
    labels, questions = pope_files(splits["val"], seed, pope_images)
    for split, rows in labels.items():
        _write_jsonl(partial / "pope" / f"coco_pope_{split}.json", rows)
    _write_jsonl(partial / "pope" / "llava_pope_test.jsonl", questions)
    for subtask, rows in mme_files(splits["val"], seed, mme_images).items():
        path = partial / "mme" / f"{subtask}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    _write_json(partial / "micro_world.json", {
        "format_version": FORMAT_VERSION, "seed": seed,
        "sizes": {"train": n_train, "csr": n_csr, "val": n_val, "pope_images": len(labels["random"]) // 6,
                  "mme_images": min(mme_images, n_val)},
        "categories": [c.name for c in CATEGORIES], "scenes": {s: list(SCENE_BY_NAME[s].objects) for s in SCENE_BY_NAME},
        "image_dirs": {s: f"images/{s}" for s in SPLITS}})
    marker = out / "micro_world.json"
    if marker.is_file() and marker.read_bytes() == (partial / "micro_world.json").read_bytes():
        shutil.rmtree(partial)  # another process built the same world (same arguments, same bytes): keep its
        return out              # files, which a run may already be reading
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return out
