"""The micro-world: small synthetic scenes with real COCO object names and real co-occurrence.

Why: our users run LLaVA-1.5 on COCO; we, the developers and CI have no GPU and no downloads. The micro-world
is a tiny stand-in that speaks the real formats (COCO, LLaVA-Instruct, POPE, MME), so every adapter of the
toolkit runs on it unchanged, and its ground truth is known exactly, so hallucination can be measured.

A scene has a type (park, street, kitchen, living room) with a faint background tint and 1–4 objects drawn
as distinct shapes and colours in the cells of a 3×3 grid. Objects mostly come from the scene's own list,
so a model can learn — and over-trust — which objects go together, as real models do. (The street has a
truck, not a bus: the reference CHAIR singularizes "bus" to "bu" and would never see one.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

IMAGE_SIZE = 64
GRID = 3
CELL = IMAGE_SIZE // GRID


@dataclass(frozen=True)
class Category:
    coco_id: int
    name: str
    shape: str
    color: str  # colour name, used by MME colour questions
    rgb: tuple[int, int, int]


# Real COCO ids and names; each drawn as a distinct (shape, colour).
CATEGORIES: tuple[Category, ...] = (
    Category(1, "person", "cross", "pink", (236, 120, 170)),
    Category(18, "dog", "circle", "brown", (140, 85, 40)),
    Category(34, "frisbee", "ring", "red", (220, 40, 40)),
    Category(15, "bench", "hbar", "green", (40, 150, 60)),
    Category(3, "car", "square", "blue", (40, 70, 210)),
    Category(8, "truck", "hbar", "yellow", (235, 200, 30)),
    Category(10, "traffic light", "vbar", "black", (25, 25, 25)),
    Category(47, "cup", "triangle", "white", (245, 245, 245)),
    Category(48, "fork", "vbar", "gray", (150, 150, 150)),
    Category(49, "knife", "diagonal", "cyan", (40, 200, 210)),
    Category(51, "bowl", "semicircle", "orange", (240, 140, 30)),
    Category(67, "dining table", "square", "brown", (120, 70, 30)),
    Category(63, "couch", "hbar", "purple", (130, 50, 170)),
    Category(72, "tv", "square", "black", (20, 20, 20)),
    Category(75, "remote", "diamond", "red", (200, 30, 60)),
    Category(62, "chair", "triangle", "green", (60, 170, 80)),
)
BY_NAME = {c.name: c for c in CATEGORIES}


@dataclass(frozen=True)
class SceneType:
    name: str
    objects: tuple[str, ...]
    background: tuple[int, int, int]


SCENES: tuple[SceneType, ...] = (
    SceneType("park", ("person", "dog", "frisbee", "bench"), (196, 222, 190)),
    SceneType("street", ("car", "truck", "traffic light", "person"), (200, 200, 208)),
    SceneType("kitchen", ("cup", "fork", "knife", "bowl", "dining table"), (226, 214, 196)),
    SceneType("living room", ("couch", "tv", "remote", "chair"), (214, 200, 222)),
)
SCENE_BY_NAME = {s.name: s for s in SCENES}

POSITIONS = ("top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right")
OUT_OF_SCENE_PROBABILITY = 0.1
COLOR_NAMES = sorted({c.color for c in CATEGORIES})


@dataclass(frozen=True)
class PlacedObject:
    category: str
    cell: int  # 0..8, reading order
    bbox: tuple[float, float, float, float]  # COCO [x, y, w, h] in pixels

    @property
    def position(self) -> str:
        return POSITIONS[self.cell]


@dataclass(frozen=True)
class Scene:
    scene_type: str
    objects: tuple[PlacedObject, ...]  # in reading order (cell index)
    seed: int = field(compare=False)

    @property
    def object_names(self) -> list[str]:
        return [o.category for o in self.objects]


def sample_scene(rng: random.Random) -> Scene:
    """Draw a scene type, 1–4 distinct objects (mostly of that scene) and their cells."""
    scene = rng.choice(SCENES)
    n = rng.randint(1, 4)
    names = rng.sample(scene.objects, min(n, len(scene.objects)))
    if rng.random() < OUT_OF_SCENE_PROBABILITY:
        others = [c.name for c in CATEGORIES if c.name not in scene.objects]
        names[rng.randrange(len(names))] = rng.choice(others)
    cells = sorted(rng.sample(range(GRID * GRID), len(names)))
    rng.shuffle(names)
    objects = []
    for name, cell in zip(names, cells):
        size = rng.randint(12, 17)
        x0 = (cell % GRID) * CELL + rng.randint(0, CELL - size + 2) - 1
        y0 = (cell // GRID) * CELL + rng.randint(0, CELL - size + 2) - 1
        x0, y0 = max(0, min(x0, IMAGE_SIZE - size)), max(0, min(y0, IMAGE_SIZE - size))
        objects.append(PlacedObject(name, cell, (float(x0), float(y0), float(size), float(size))))
    return Scene(scene.name, tuple(objects), seed=rng.randrange(2**31))


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 18) -> tuple[int, int, int]:
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in rgb)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], fill) -> None:
    x, y, w, h = box
    x1, y1 = x + w - 1, y + h - 1
    cx, cy = x + w / 2, y + h / 2
    if shape == "circle":
        draw.ellipse([x, y, x1, y1], fill=fill)
    elif shape == "ring":
        draw.ellipse([x, y, x1, y1], outline=fill, width=3)
    elif shape == "square":
        draw.rectangle([x + 1, y + 1, x1 - 1, y1 - 1], fill=fill)
    elif shape == "hbar":
        draw.rectangle([x, cy - 3, x1, cy + 3], fill=fill)
    elif shape == "vbar":
        draw.rectangle([cx - 3, y, cx + 3, y1], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, y), (x1, y1), (x, y1)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, y), (x1, cy), (cx, y1), (x, cy)], fill=fill)
    elif shape == "cross":
        draw.rectangle([cx - 2, y, cx + 2, y1], fill=fill)
        draw.rectangle([x, cy - 2, x1, cy + 2], fill=fill)
    elif shape == "diagonal":
        draw.line([(x, y1), (x1, y)], fill=fill, width=4)
    elif shape == "semicircle":
        draw.pieslice([x, y - h / 2, x1, y1], 0, 180, fill=fill)
    else:  # pragma: no cover - the table above is closed
        raise ValueError(f"unknown shape {shape!r}")


def render(scene: Scene) -> Image.Image:
    """Draw a scene as a 64×64 RGB image; deterministic given the scene (its seed drives the jitter)."""
    rng = random.Random(scene.seed)
    background = _jitter(SCENE_BY_NAME[scene.scene_type].background, rng, 8)
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), background)
    draw = ImageDraw.Draw(image)
    for _ in range(6):  # faint clutter: specks of the scene tint, no object shape
        x, y = rng.randrange(IMAGE_SIZE), rng.randrange(IMAGE_SIZE)
        draw.point((x, y), fill=_jitter(background, rng, 25))
    for obj in scene.objects:
        category = BY_NAME[obj.category]
        _draw_shape(draw, category.shape, obj.bbox, _jitter(category.rgb, rng))
    return image
