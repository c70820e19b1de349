"""Measure the micro models against the behaviour they must have to stand in for LLaVA-1.5 and CLIP.

The micro-LLaVA must hallucinate like a real LVLM — some, not hopelessly — and answer yes/no questions
well, worse when the absent object usually co-occurs with what is there. The micro-CLIP must rank a
sentence about a present object above one about an absent object of the same scene. Everything goes
through the real paths: the runner's chat template, answer files in the LLaVA formats, and the project's
reference-exact POPE and CHAIR scorers on the micro-world's COCO-format export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from csr_eval.benchmarks.pope import TABLE_ORDER as POPE_TABLE_ORDER
from csr_eval.benchmarks.pope import score_files as score_pope_files
from csr_eval.io import read_jsonl
from csr_eval.micro.language import CHAIR_PROMPT
from csr_eval.micro.world import CATEGORIES, SCENE_BY_NAME
from csr_eval.runner import GenerationSettings, ModelRunner

TARGETS = {
    "chair_s": (0.15, 0.50),
    "chair_recall": (0.70, None),
    "pope_random_accuracy": (0.80, None),
    "pope_f1_gap_random_minus_adversarial": (0.03, None),
    "clip_present_over_absent_same_scene": (0.90, None),
}


@dataclass
class Target:
    name: str
    value: float
    low: float | None
    high: float | None

    @property
    def met(self) -> bool:
        return (self.low is None or self.value >= self.low) and (self.high is None or self.value <= self.high)

    def describe(self) -> str:
        band = f"[{self.low}, {self.high}]" if self.high is not None else f">= {self.low}"
        return f"{self.name:40s} {self.value:8.4f}   target {band:14s} {'met' if self.met else 'NOT met'}"


def _open(world: Path, split: str, file_name: str) -> Image.Image:
    return Image.open(world / "images" / split / file_name).convert("RGB")


def measure_chair(runner, world: Path, out: Path, max_new_tokens: int = 64) -> dict:
    """Greedy answers to CHAIR's prompt on every val image, scored with the project's CHAIR."""
    from csr_eval.benchmarks.chair import score_files  # imports nltk, and with it pandas

    images = json.loads((world / "annotations" / "instances_val.json").read_text())["images"]
    captions = runner.generate([_open(world, "val", i["file_name"]) for i in images], [CHAIR_PROMPT] * len(images),
                               GenerationSettings(max_new_tokens=max_new_tokens))
    path = out / "chair_captions.jsonl"
    path.write_text("".join(json.dumps({"image_id": i["id"], "caption": c}) + "\n"
                            for i, c in zip(images, captions)), encoding="utf-8")
    return score_files(path, world / "annotations").to_dict(per_caption=False)


def measure_pope(runner, world: Path, out: Path) -> dict:
    """Greedy answers to LLaVA's POPE question file, scored with the project's POPE."""
    question_file = world / "pope" / "llava_pope_test.jsonl"
    questions = [q for _, q in read_jsonl(question_file)]
    answers = runner.generate([_open(world, "val", q["image"]) for q in questions], [q["text"] for q in questions],
                              GenerationSettings(max_new_tokens=4))
    path = out / "pope_answers.jsonl"
    path.write_text("".join(json.dumps({"question_id": q["question_id"], "prompt": q["text"], "text": a}) + "\n"
                            for q, a in zip(questions, answers)), encoding="utf-8")
    return score_pope_files(world / "pope", question_file, path).to_dict()


def clip_ranking(clip_path: str | Path, world: Path) -> dict:
    """How often 100·cos(image, "There is a {present}.") beats the same for an absent object.

    Absent objects of the image's own scene (the hard case) and of other scenes are counted apart.
    """
    import open_clip
    import torch

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{clip_path}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{clip_path}")
    model.eval()
    coco = json.loads((world / "annotations" / "instances_val.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    present: dict[int, set[str]] = {}
    for a in coco["annotations"]:
        present.setdefault(a["image_id"], set()).add(names[a["category_id"]])
    all_names = [c.name for c in CATEGORIES]
    with torch.inference_mode():
        text = model.encode_text(tokenizer([f"There is a {n}." for n in all_names]), normalize=True)
        pixels = torch.stack([preprocess(_open(world, "val", i["file_name"])) for i in coco["images"]])
        scores = 100 * model.encode_image(pixels, normalize=True) @ text.T
    wins = {"same_scene": [0, 0], "other_scene": [0, 0]}
    for row, image in zip(scores, coco["images"]):
        scene_objects = SCENE_BY_NAME[image["scene"]].objects
        for p in present.get(image["id"], ()):
            for a in all_names:
                if a in present[image["id"]]:
                    continue
                kind = "same_scene" if a in scene_objects else "other_scene"
                wins[kind][0] += int(row[all_names.index(p)] > row[all_names.index(a)])
                wins[kind][1] += 1
    return {k: {"accuracy": w / n if n else 0.0, "pairs": n} for k, (w, n) in wins.items()}


def measure(llava_path: str | Path, clip_path: str | Path, world: str | Path, out: str | Path,
            batch_size: int = 50) -> dict:
    """All behaviour measurements and the targets they are held to."""
    world, out = Path(world), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runner = ModelRunner.load(llava_path, batch_size=batch_size)
    chair = measure_chair(runner, world, out)
    pope = measure_pope(runner, world, out)
    clip = clip_ranking(clip_path, world)
    values = {
        "chair_s": chair["chair_s"], "chair_recall": chair["recall"],
        "pope_random_accuracy": pope["random"]["accuracy"],
        "pope_f1_gap_random_minus_adversarial": pope["random"]["f1"] - pope["adversarial"]["f1"],
        "clip_present_over_absent_same_scene": clip["same_scene"]["accuracy"],
    }
    targets = [Target(k, values[k], *TARGETS[k]) for k in TARGETS]
    report = {"llava": str(llava_path), "clip": str(clip_path), "world": str(world), "chair": chair,
              "pope": pope, "clip_ranking": clip,
              "targets": {t.name: {"value": t.value, "low": t.low, "high": t.high, "met": t.met} for t in targets}}
    (out / "behaviour.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def format_report(report: dict) -> str:
    lines = [Target(k, v["value"], v["low"], v["high"]).describe() for k, v in report["targets"].items()]
    chair, pope = report["chair"], report["pope"]
    lines.append(f"CHAIR_I {chair['chair_i']:.4f}, {chair['n_captions']} captions, mean length "
                 f"{chair['mean_length']:.1f} tokens")
    lines.append("POPE acc/F1 " + ", ".join(f"{s} {pope[s]['accuracy']:.3f}/{pope[s]['f1']:.3f}"
                                           for s in POPE_TABLE_ORDER))
    lines.append("CLIP present>absent " + ", ".join(f"{k} {v['accuracy']:.3f} ({v['pairs']} pairs)"
                                                   for k, v in report["clip_ranking"].items()))
    return "\n".join(lines)
