"""ScienceQA-IMG: multiple choice over the test problems that have an image.

Reference: LLaVA ``llava/eval/eval_science_qa.py``: an answer that is exactly an option letter is taken;
else ``"X. ..."`` gives X; else the pattern ``The answer is ([A-Z]).`` must match exactly once; else the
answer FAILED (wrong). A letter beyond the number of choices is wrong. IMG accuracy is over problems with
an image.
"""

from __future__ import annotations

import re

NAME = "sqa"
OPTIONS = ("A", "B", "C", "D", "E")
_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")


def parse_choice(text: str, n_choices: int) -> int:
    """Index of the chosen option, or -1 when the answer cannot be read or is out of range."""
    if text in OPTIONS:
        letter = text
    elif len(text) >= 3 and text[0] in OPTIONS and text[1:3] == ". ":
        letter = text[0]
    else:
        found = _ANSWER_IS.findall(text)
        letter = found[0] if len(found) == 1 else "FAILED"
    return OPTIONS.index(letter) if letter in OPTIONS[:n_choices] else -1


def score(problems: dict[str, dict], answers: dict[str, str]) -> dict:
    """problems: id -> {choices, answer (index), image (truthy when the problem has one)}."""
    rows = [(pid, parse_choice(answers[pid], len(p["choices"])) == p["answer"], bool(p.get("image")))
            for pid, p in problems.items() if pid in answers]
    if not rows:
        raise ValueError("no answered problem")
    img = [right for _, right, has_image in rows if has_image]
    return {"img_accuracy": sum(img) / len(img) if img else 0.0, "n_img": len(img),
            "accuracy": sum(r for _, r, _ in rows) / len(rows), "n": len(rows)}
