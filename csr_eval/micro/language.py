"""The micro-world's language: descriptions, reference captions and the prompts of LLaVA's data.

Every sentence names only objects that are in the scene (the tests check it with the CHAIR parser), and
avoids words that CHAIR maps to a COCO object by synonym ("table", "seat", "people" ...) unless meant.
"""

from __future__ import annotations

import random

from csr_eval.micro.world import Scene

# LLaVA-Instruct's detailed-description instructions (detail_23k), the prompt set CSR samples from.
DETAIL_PROMPTS = (
    "Describe the following image in detail.",
    "Provide a detailed description of the given image.",
    "Give an elaborate explanation of the image you see.",
    "Share a comprehensive rundown of the presented image.",
    "Offer a thorough analysis of the image.",
    "Explain the various aspects of the image before you.",
    "Clarify the contents of the displayed image with great detail.",
    "Characterize the image using a well-detailed description.",
    "Break down the elements of the image in a detailed manner.",
    "Walk through the important details of the image.",
    "Portray the image with a rich, descriptive narrative.",
    "Narrate the contents of the image with precision.",
    "Analyze the image in a comprehensive and detailed manner.",
    "Illustrate the image through a descriptive explanation.",
    "Examine the image closely and share its details.",
    "Write an exhaustive depiction of the given image.",
)
# The prompt of the CHAIR protocol (OPERA, CSR).
CHAIR_PROMPT = "Please describe this image in detail."
SHORT_ANSWER_SUFFIX = "\nAnswer the question using a single word or phrase."


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def position_phrase(position: str) -> str:
    return "in the center" if position == "center" else f"at the {position}"


def object_sentence(name: str, position: str, style: int = 0) -> str:
    """One sentence about one object; the styles vary wording the way descriptions do."""
    where = position_phrase(position)
    if style == 0:
        return f"There is {article(name)} {name} {where}."
    return f"{article(name).capitalize()} {name} is {where}."


def detailed_description(scene: Scene, rng: random.Random | None = None) -> str:
    """The answer to a detailed-description prompt: one sentence per object, in reading order."""
    style = (lambda i: i % 2) if rng is None else (lambda i: rng.randint(0, 1))
    return " ".join(object_sentence(o.category, o.position, style(i)) for i, o in enumerate(scene.objects))


def _join(names: list[str]) -> str:
    phrases = [f"{article(n)} {n}" for n in names]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def reference_captions(scene: Scene, rng: random.Random, n: int = 5) -> list[str]:
    """COCO-style one-sentence captions naming every object (five per image, as COCO)."""
    names = scene.object_names
    where = f"in {article(scene.scene_type)} {scene.scene_type}"
    templates = [
        f"A picture of {_join(names)} {where}.",
        f"{_join(names).capitalize()} {where}.",
        f"An image showing {_join(names)}.",
        f"{article(scene.scene_type).capitalize()} {scene.scene_type} with {_join(names)}.",
        f"This scene shows {_join(rng.sample(names, len(names)))}.",
        f"A simple drawing of {_join(names)}.",
    ]
    return rng.sample(templates, n)


def pope_question(name: str) -> str:
    return f"Is there {article(name)} {name} in the image?"
