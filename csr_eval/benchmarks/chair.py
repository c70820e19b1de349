"""CHAIR (Rohrbach et al., EMNLP 2018): object hallucination in image descriptions.

Reference: LisaAnne/Hallucination ``utils/chair.py`` as ported to Python 3 by
Maxlinn/CHAIR-metric-standalone (the scorer behind OPERA's and most LVLM papers' pattern-based numbers).
Behaviour reproduced exactly, quirks included (see ``docs/evaluation.md``, the CHAIR row):

* the 80-line synonym table parsed with ``split(', ')`` (so ``' motor bike'`` and ``' cheesecake'``
  never match and ``iPhone`` never matches lower-cased text);
* ``nltk.word_tokenize`` tokens (reached without punkt data, see :mod:`csr_eval.text.tokenize`) and
  ``pattern.en.singularize`` (see :mod:`csr_eval.text.singularize`: "bus" -> "bu");
* greedy two-word merging, with the animal rule ("baby dog" -> dog), the vehicle rule
  ("passenger train" -> train), "home plate"/"train track" swallowed, "toilet seat" -> toilet,
  "wine glas" -> wine glass, and every "seat" dropped when "toilet" is present;
* ground truth per image = COCO instance categories + objects parsed from the reference captions.

Differences from the reference, all deliberate and documented in docs/evaluation.md: ground truth is built from
whichever annotation files are given (the reference refuses to run without the train2014 files) and
only for the images being scored; a caption for an image absent from the annotations is an error (the
reference silently gives it an empty ground truth, so every mention counts as hallucinated); a duplicate
image id is an error by default (a file that repeats an image is more often a concatenation mistake than
intent), and with ``allow_duplicate_images`` every line is scored as its own caption, as the reference does
(several sampled captions per image).
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from csr_eval.benchmark import HALLUCINATION, MICRO, Benchmark, Column, ScoreCommand
from csr_eval.errors import InputError
from csr_eval.io import read_json_or_jsonl
from csr_eval.report import format_table
from csr_eval.tasks import Judgement, PreparedTask, Request, Skipped, require_files
from csr_eval.text.singularize import singularize
from csr_eval.text.tokenize import word_tokenize

NAME = "chair"

# Two-token phrases treated as one word. "home plate" and "train track" are not objects: they are
# listed so that "plate"/"train" inside them do not fire. "stove top oven" has three words and so
# never matches (kept for fidelity).
_DOUBLE_WORDS = (
    "motor bike", "motor cycle", "air plane", "traffic light", "street light", "traffic signal",
    "stop light", "fire hydrant", "stop sign", "parking meter", "suit case", "sports ball",
    "baseball bat", "baseball glove", "tennis racket", "wine glass", "hot dog", "cell phone",
    "mobile phone", "teddy bear", "hair drier", "potted plant", "bow tie", "laptop computer",
    "stove top oven", "home plate", "train track",
)
# "baby dog" is a dog, not a person; "passenger train" is a train, not a person.
_ANIMAL_WORDS = ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
                 "animal", "cub")
_VEHICLE_WORDS = ("jet", "train")
_OVERRIDES = {"bow tie": "tie", "toilet seat": "toilet", "wine glas": "wine glass"}


@dataclass(frozen=True)
class CocoObjectVocabulary:
    """The 80 COCO categories, their synonyms, and the two-word phrases CHAIR merges."""

    synonyms: dict[str, str]  # surface word -> node word (COCO category name)
    double_words: dict[str, str]

    @classmethod
    def reference(cls) -> "CocoObjectVocabulary":
        text = resources.files("csr_eval.data").joinpath("coco_synonyms.txt").read_text(encoding="utf-8")
        synonyms: dict[str, str] = {}
        for line in text.splitlines():
            entries = line.strip().split(", ")
            for entry in entries:
                synonyms[entry] = entries[0]
        double_words = {phrase: phrase for phrase in _DOUBLE_WORDS}
        for animal in _ANIMAL_WORDS:
            double_words[f"baby {animal}"] = animal
            double_words[f"adult {animal}"] = animal
        for vehicle in _VEHICLE_WORDS:
            double_words[f"passenger {vehicle}"] = vehicle
        double_words.update(_OVERRIDES)
        return cls(synonyms=synonyms, double_words=double_words)

    @cached_property
    def node_words(self) -> frozenset[str]:
        return frozenset(self.synonyms.values())


@dataclass
class CaptionObjects:
    """What CHAIR sees in one caption."""

    tokens: list[str]  # tokens after singularization and double-word merging
    words: list[str]  # object words as written (singularized), in order, with repetition
    node_words: list[str]  # the COCO category of each object word
    token_indices: list[int]  # index of each object word in ``tokens``
    spans: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each object word in the caption


def _token_offsets(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    """Where each tokenizer token lies in ``text`` (the tokenizer writes a double quote as `` or '')."""
    offsets, cursor = [], 0
    for token in tokens:
        for form in ((token, '"') if token in ("``", "''") else (token,)):
            start = text.find(form, cursor)
            if start >= 0:
                cursor = start + len(form)
                offsets.append((start, cursor))
                break
        else:
            offsets.append((cursor, cursor))
    return offsets


def caption_objects(caption: str, vocab: CocoObjectVocabulary) -> CaptionObjects:
    """Find the COCO objects a caption mentions (the reference's ``caption_to_words``), and where."""
    lowered = caption.lower()
    surface = word_tokenize(lowered)
    raw = [singularize(token) for token in surface]
    offsets = _token_offsets(lowered, surface)
    tokens: list[str] = []
    token_spans: list[tuple[int, int]] = []
    i = 0
    while i < len(raw):
        pair = " ".join(raw[i:i + 2])
        if pair in vocab.double_words:
            tokens.append(vocab.double_words[pair])
            token_spans.append((offsets[i][0], offsets[i + 1][1]))
            i += 2
        else:
            tokens.append(raw[i])
            token_spans.append(offsets[i])
            i += 1
    # "the seat of the toilet" must not fire for chair.
    drop_seat = "toilet" in tokens and "seat" in tokens
    words, nodes, indices = [], [], []
    for index, token in enumerate(tokens):
        if token in vocab.synonyms and not (drop_seat and token == "seat"):
            words.append(token)
            nodes.append(vocab.synonyms[token])
            indices.append(index)
    return CaptionObjects(tokens=tokens, words=words, node_words=nodes, token_indices=indices,
                          spans=[token_spans[k] for k in indices])


@dataclass
class CaptionResult:
    """Per-caption details; the dashboard highlights ``hallucinated`` in red, the rest of ``mentioned`` in green."""

    image_id: int
    caption: str
    mentioned: list[str]  # node words mentioned, with repetition, in order
    hallucinated: list[str]  # node words mentioned that are not in the ground truth, with repetition
    hallucinated_words: list[str]  # the caption words that triggered each hallucination
    ground_truth: list[str]
    recalled: list[str]  # distinct ground-truth objects mentioned
    tokens: list[str]
    hallucination_token_indices: list[int]
    object_token_indices: list[int]

    @property
    def is_hallucinated(self) -> bool:
        return bool(self.hallucinated)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["chair_s"] = int(self.is_hallucinated)
        out["chair_i"] = len(self.hallucinated) / len(self.mentioned) if self.mentioned else 0.0
        out["n_tokens"] = len(self.tokens)
        return out


@dataclass
class ChairResult:
    chair_s: float
    chair_i: float
    recall: float
    mean_length: float  # mean tokens after double-word merging (OPERA's "Len")
    mean_words: float  # mean whitespace-separated words
    n_captions: int
    counts: dict[str, int]
    per_caption: list[CaptionResult] = field(repr=False)

    def to_dict(self, per_caption: bool = True) -> dict:
        out = {k: getattr(self, k) for k in ("chair_s", "chair_i", "recall", "mean_length", "mean_words",
                                             "n_captions", "counts")}
        if per_caption:
            out["per_caption"] = [c.to_dict() for c in self.per_caption]
        return out


class ChairEvaluator:
    """Scores captions against per-image ground-truth object sets."""

    def __init__(self, ground_truth: dict[int, set[str]], vocab: CocoObjectVocabulary | None = None):
        self.ground_truth = ground_truth
        self.vocab = vocab or CocoObjectVocabulary.reference()

    @classmethod
    def from_coco_annotations(cls, annotation_dir: str | Path, image_ids: Iterable[int] | None = None,
                              vocab: CocoObjectVocabulary | None = None) -> "ChairEvaluator":
        """Build ground truth from the ``instances_*.json`` and ``captions_*.json`` files in a folder."""
        vocab = vocab or CocoObjectVocabulary.reference()
        truth = load_coco_ground_truth(annotation_dir, vocab, None if image_ids is None else set(image_ids))
        return cls(truth, vocab)

    def score_caption(self, image_id: int, caption: str) -> CaptionResult:
        found = caption_objects(caption, self.vocab)
        truth = self.ground_truth[image_id]
        hallucinated, triggers, bad_indices = [], [], []
        for word, node, index in zip(found.words, found.node_words, found.token_indices):
            if node not in truth:
                hallucinated.append(node)
                triggers.append(word)
                bad_indices.append(index)
        recalled = sorted({node for node in found.node_words if node in truth})
        return CaptionResult(image_id=image_id, caption=caption, mentioned=found.node_words,
                             hallucinated=hallucinated, hallucinated_words=triggers,
                             ground_truth=sorted(truth), recalled=recalled, tokens=found.tokens,
                             hallucination_token_indices=bad_indices, object_token_indices=found.token_indices)

    def score(self, captions: Sequence[tuple[int, str]]) -> ChairResult:
        """CHAIR_S, CHAIR_I (micro over mentions), recall (micro over ground-truth objects) and lengths."""
        if not captions:
            raise ValueError("no captions to score")
        missing = [image_id for image_id, _ in captions if image_id not in self.ground_truth]
        if missing:
            raise KeyError(f"no ground truth for image id(s) {missing[:5]}")
        results = [self.score_caption(image_id, caption) for image_id, caption in captions]
        mentions = sum(len(r.mentioned) for r in results)
        bad_mentions = sum(len(r.hallucinated) for r in results)
        gt_objects = sum(len(r.ground_truth) for r in results)
        recalled = sum(len(r.recalled) for r in results)
        bad_captions = sum(r.is_hallucinated for r in results)
        n = len(results)
        return ChairResult(
            chair_s=bad_captions / n,
            chair_i=bad_mentions / mentions if mentions else 0.0,
            recall=recalled / gt_objects if gt_objects else 0.0,
            mean_length=sum(len(r.tokens) for r in results) / n,
            mean_words=sum(len(r.caption.split()) for r in results) / n,
            n_captions=n,
            counts={"hallucinated_captions": bad_captions, "hallucinated_object_mentions": bad_mentions,
                    "object_mentions": mentions, "recalled_gt_objects": recalled, "gt_objects": gt_objects},
            per_caption=results,
        )


def _annotation_files(annotation_dir: Path, kind: str) -> list[Path]:
    return sorted(annotation_dir.glob(f"{kind}_*.json"))


def load_coco_ground_truth(annotation_dir: str | Path, vocab: CocoObjectVocabulary,
                           image_ids: set[int] | None = None) -> dict[int, set[str]]:
    """Per-image CHAIR ground truth: instance categories plus objects named in reference captions.

    Reads every ``instances_*.json`` and ``captions_*.json`` in the folder (COCO's
    ``instances_{train,val}2014.json``, or a micro-world split) with pycocotools. Every image listed in
    any file gets an entry, possibly empty. ``image_ids`` restricts the work to those images.
    """
    from pycocotools.coco import COCO

    annotation_dir = Path(annotation_dir)
    if not annotation_dir.is_dir():
        raise InputError(annotation_dir, "COCO annotation folder not found")
    instance_files = _annotation_files(annotation_dir, "instances")
    caption_files = _annotation_files(annotation_dir, "captions")
    if not instance_files:
        raise InputError(annotation_dir, "no instances_*.json file (COCO instance annotations, e.g. "
                                         "instances_val2014.json) in this folder")
    truth: dict[int, set[str]] = {}
    wanted = (lambda image_id: True) if image_ids is None else image_ids.__contains__

    def load(path: Path) -> "COCO":
        try:
            with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints progress on stdout
                return COCO(str(path))
        except Exception as exc:  # json errors, missing keys: name the file
            raise InputError(path, f"not a loadable COCO annotation file ({type(exc).__name__}: {exc})") from None

    for path in instance_files:
        coco = load(path)
        names = {cat["id"]: cat["name"] for cat in coco.dataset.get("categories", [])}
        for image_id in coco.getImgIds():
            if wanted(image_id):
                truth.setdefault(image_id, set())
        for ann in coco.dataset.get("annotations", []):
            if not wanted(ann["image_id"]):
                continue
            name = names.get(ann["category_id"])
            if name not in vocab.synonyms:
                raise InputError(path, f"annotation {ann.get('id')} has category id {ann['category_id']} "
                                       f"({name!r}), which is not a COCO category")
            truth.setdefault(ann["image_id"], set()).add(vocab.synonyms[name])
    for path in caption_files:
        coco = load(path)
        for image_id in coco.getImgIds():
            if wanted(image_id):
                truth.setdefault(image_id, set())
        for ann in coco.dataset.get("annotations", []):
            if wanted(ann["image_id"]):
                truth.setdefault(ann["image_id"], set()).update(
                    caption_objects(ann["caption"], vocab).node_words)
    return truth


def load_captions(path: str | Path, image_id_key: str = "image_id", caption_key: str = "caption",
                  allow_duplicate_images: bool = False) -> list[tuple[int, str, int]]:
    """Read ``(image_id, caption, line)`` from a jsonl file or a json list; a repeated image id is an error
    unless ``allow_duplicate_images``."""
    rows = read_json_or_jsonl(path, required=(image_id_key, caption_key))
    seen: dict[int, int] = {}
    out = []
    for number, obj in rows:
        raw_id, caption = obj[image_id_key], obj[caption_key]
        try:
            image_id = int(raw_id)
        except (TypeError, ValueError):
            raise InputError(path, f"{image_id_key!r} must be an integer COCO image id, got {raw_id!r}", number) from None
        if not isinstance(caption, str):
            raise InputError(path, f"{caption_key!r} must be a string, got {type(caption).__name__}", number)
        if image_id in seen and not allow_duplicate_images:
            raise InputError(path, f"duplicate image id {image_id} (first on line {seen[image_id]}); to score "
                                   "every line as its own caption, as the reference chair.py does (several "
                                   "sampled captions per image), pass --allow-duplicate-images", number)
        seen.setdefault(image_id, number)
        out.append((image_id, caption, number))
    return out


def score_files(captions_file: str | Path, annotation_dir: str | Path, image_id_key: str = "image_id",
                caption_key: str = "caption", allow_duplicate_images: bool = False) -> ChairResult:
    """Score a caption file against a COCO annotation folder (the ``csr-eval score chair`` contract)."""
    captions = load_captions(captions_file, image_id_key, caption_key, allow_duplicate_images)
    evaluator = ChairEvaluator.from_coco_annotations(annotation_dir, image_ids=[c[0] for c in captions])
    for image_id, _, number in captions:
        if image_id not in evaluator.ground_truth:
            raise InputError(captions_file, f"image id {image_id} is not in any annotation file of "
                                            f"{annotation_dir}", number)
    return evaluator.score([(image_id, caption) for image_id, caption, _ in captions])


# -- running CHAIR on a model (the csr-eval suite path) ------------------------------------------------
CHAIR_PROMPT = "Please describe this image in detail."  # OPERA's and CSR's CHAIR protocol
HOW_TO_GET = ("Get COCO val2014 images and annotations_trainval2014 (instances_val2014.json, captions_val2014.json) "
              "from https://cocodataset.org and set chair.images and chair.annotations in configs/data.yaml.")


def sample_images(annotation_dir: Path, n_images: int, seed: int) -> list[dict]:
    """``n_images`` images of the evaluated split, drawn with a fixed seed from the sorted image ids.

    The split is the ``instances_val*.json`` file (COCO val2014, or the micro-world's val split); without
    one, every instances file is used.
    """
    files = sorted(Path(annotation_dir).glob("instances_val*.json")) or _annotation_files(Path(annotation_dir),
                                                                                          "instances")
    images: dict[int, dict] = {}
    for path in files:
        try:
            for image in json.loads(path.read_text(encoding="utf-8"))["images"]:
                images[image["id"]] = image
        except (ValueError, KeyError) as exc:
            raise InputError(path, f"not a COCO instances file ({exc})") from None
    ordered = [images[i] for i in sorted(images)]
    if n_images >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, n_images), key=lambda image: image["id"])


def prepare(annotation_dir: Path, images_dir: Path, n_images: int = 500, seed: int = 0,
            max_new_tokens: int = 512, limit: int | None = None, benchmark: str = "chair"):
    """One request per sampled image with CHAIR's prompt; scored by the reference CHAIR rules."""
    annotation_dir, images_dir = Path(annotation_dir), Path(images_dir)
    require_files([annotation_dir, images_dir], "CHAIR data", HOW_TO_GET)
    if not _annotation_files(annotation_dir, "instances"):
        raise Skipped(f"CHAIR data not found: no instances_*.json in {annotation_dir}. {HOW_TO_GET}")
    images = sample_images(annotation_dir, n_images, seed)
    if limit is not None:
        images = images[:limit]
    requests = [Request(str(i["id"]), images_dir / i["file_name"], CHAIR_PROMPT) for i in images]

    def score(answers: dict[str, str]):
        evaluator = ChairEvaluator.from_coco_annotations(annotation_dir, [i["id"] for i in images])
        result = evaluator.score([(i["id"], answers[str(i["id"])]) for i in images])
        judged = {str(c.image_id): Judgement(parsed=", ".join(c.mentioned), correct=not c.is_hallucinated,
                                             hallucinated=list(c.hallucinated),
                                             extra={"recalled": c.recalled, "ground_truth": c.ground_truth})
                  for c in result.per_caption}
        return result.to_dict(per_caption=False), judged

    settings = {"annotations": str(annotation_dir), "prompt": CHAIR_PROMPT, "n_images": n_images, "seed": seed,
                "limit": limit}
    return PreparedTask(benchmark, requests, max_new_tokens, settings, score)


# -- what the toolkit knows about CHAIR (the registry's entry) ----------------------------------------
MICRO_MAX_NEW_TOKENS = 64  # the micro-world's captions are short


@dataclass
class ChairData:
    annotations: str = "coco/annotations"  # instances_val2014.json + captions_val2014.json
    images: str = "coco/val2014"
    n_images: int = 500
    seed: int = 0
    max_new_tokens: int = 512


def headline(m) -> str:
    return f"CHAIR_S {100 * m['chair_s']:.1f}  CHAIR_I {100 * m['chair_i']:.1f}  recall {100 * m['recall']:.1f}"


def _prepare(data, limit):
    c = data.chair
    return prepare(data.resolve(c.annotations), data.resolve(c.images), c.n_images, c.seed, c.max_new_tokens, limit)


def _prepare_micro(data, limit):
    world = data.micro_world()
    return prepare(world / "annotations", world / "images" / "val", n_images=data.micro.n_val, seed=data.chair.seed,
                   max_new_tokens=MICRO_MAX_NEW_TOKENS, limit=limit, benchmark="micro_chair")


def _score_arguments(p) -> None:
    p.add_argument("--captions", required=True, type=Path)
    p.add_argument("--coco-annotations", required=True, type=Path)
    p.add_argument("--image-id-key", default="image_id")
    p.add_argument("--caption-key", default="caption")
    p.add_argument("--no-per-caption", action="store_true", help="leave per-caption details out of the JSON")
    p.add_argument("--allow-duplicate-images", action="store_true",
                   help="score every line, repeated image ids included, as the reference chair.py does "
                        "(several sampled captions per image); without it a repeated image id is an error")


def _score_files(args) -> tuple[dict, str]:
    result = score_files(args.captions, args.coco_annotations, args.image_id_key, args.caption_key,
                         args.allow_duplicate_images)
    table = format_table(["CHAIR_S", "CHAIR_I", "recall", "mean length", "captions"],
                         [[100 * result.chair_s, 100 * result.chair_i, 100 * result.recall, result.mean_length,
                           result.n_captions]], title="CHAIR (Maxlinn chair.py rules; values ×100)")
    return result.to_dict(per_caption=not args.no_per_caption), table


CHAIR_S = Column("CHAIR_S", "CHAIR_S", lambda m: 100 * m["chair_s"], False, paper_column="CHAIR_S",
                 normalise=lambda v: 100 - v)
CHAIR_I = Column("CHAIR_I", "CHAIR_I", lambda m: 100 * m["chair_i"], False, paper_column="CHAIR_I",
                 normalise=lambda v: 100 - v)
LENGTH = Column("CHAIR_len", "Avg length", lambda m: m["mean_length"], None)
RECALL = Column("CHAIR_recall", "Recall", lambda m: 100 * m["recall"], True)
SCORE = ScoreCommand("CHAIR as Rohrbach et al. / Maxlinn chair.py: --captions jsonl or json list with image_id and "
                     "caption; --coco-annotations folder with instances_*.json and captions_*.json (e.g. "
                     "instances_val2014.json, captions_val2014.json; whichever exist).", _score_arguments, _score_files)
BENCHMARKS = (
    Benchmark(NAME, "CHAIR", HALLUCINATION, 1, (CHAIR_S, CHAIR_I, LENGTH), _prepare, ChairData, headline, SCORE),
    Benchmark("micro_chair", "CHAIR (micro-world)", MICRO, 1,
              (CHAIR_S.renamed("micro_CHAIR_S", "µCHAIR_S"), CHAIR_I.renamed("micro_CHAIR_I", "µCHAIR_I"),
               RECALL.renamed("micro_recall", "µRecall"), LENGTH.renamed("micro_len", "µLength")),
              _prepare_micro, headline=headline),
)
