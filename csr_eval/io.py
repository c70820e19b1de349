"""Readers for answer and annotation files that report the file and line of every problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from csr_eval.errors import InputError


def _require_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    return path


def read_jsonl(path: str | Path, required: tuple[str, ...] = ()) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSON-lines file into ``(line_number, object)`` pairs; blank lines are ignored.

    Every object must be a JSON object holding the ``required`` keys. An empty file is an error:
    scoring nothing must never look like a score of zero.
    """
    path = _require_file(path)
    rows: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", number) from None
            _check_object(path, number, obj, required)
            rows.append((number, obj))
    if not rows:
        raise InputError(path, "file is empty; expected one JSON object per line")
    return rows


def read_json_or_jsonl(path: str | Path, required: tuple[str, ...] = ()) -> list[tuple[int, dict[str, Any]]]:
    """Read either a JSON list of objects or JSON lines; items are numbered from 1 (line or list index)."""
    path = _require_file(path)
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg})", exc.lineno) from None
        if not items:
            raise InputError(path, "file holds an empty list; expected at least one object")
        rows = []
        for number, obj in enumerate(items, start=1):
            _check_object(path, number, obj, required, unit="item")
            rows.append((number, obj))
        return rows
    return read_jsonl(path, required)


def _check_object(path: Path, number: int, obj: Any, required: tuple[str, ...], unit: str = "line") -> None:
    if not isinstance(obj, dict):
        raise InputError(path, f"{unit} {number} is not a JSON object", number if unit == "line" else None)
    missing = [key for key in required if key not in obj]
    if missing:
        where = number if unit == "line" else None
        prefix = "" if unit == "line" else f"item {number}: "
        raise InputError(path, f"{prefix}missing field(s) {', '.join(map(repr, missing))}; "
                               f"expected {', '.join(map(repr, required))}", where)


def read_json(path: str | Path) -> Any:
    path = _require_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, raw_line)`` keeping the newline, as scorers that depend on it need."""
    path = _require_file(path)
    with path.open(encoding="utf-8") as handle:
        yield from enumerate(handle, start=1)


def read_answers(path: str | Path, id_key: str = "question_id", text_key: str = "text") -> dict[Any, str]:
    """Map question id -> answer text from a jsonl answer file; duplicates are errors."""
    answers: dict[Any, str] = {}
    first_line: dict[Any, int] = {}
    for number, obj in read_jsonl(path, required=(id_key, text_key)):
        qid = obj[id_key]
        if qid in answers:
            raise InputError(path, f"duplicate {id_key} {qid!r} (first on line {first_line[qid]})", number)
        if not isinstance(obj[text_key], str):
            raise InputError(path, f"{text_key!r} must be a string, got {type(obj[text_key]).__name__}", number)
        answers[qid] = obj[text_key]
        first_line[qid] = number
    return answers


def match_answers(answers: dict[Any, str], gold_ids: list, answers_path: str | Path, gold_path: str | Path,
                  allow_missing: bool = False) -> tuple[list, float]:
    """Ids of ``gold_ids`` that have an answer, and the coverage; unknown or missing ids are errors.

    Ids are compared as strings so that 17 and "17" meet.
    """
    gold = {str(g) for g in gold_ids}
    unknown = [qid for qid in answers if str(qid) not in gold]
    if unknown:
        raise InputError(answers_path, f"{len(unknown)} answer(s) for question ids not in {gold_path}, "
                                       f"e.g. {unknown[:3]}")
    answered = {str(q) for q in answers}
    present = [g for g in gold_ids if str(g) in answered]
    if len(present) < len(gold_ids) and not allow_missing:
        missing = [g for g in gold_ids if str(g) not in answered]
        raise InputError(answers_path, f"{len(missing)} of {len(gold_ids)} questions of {gold_path} have no "
                                       f"answer, e.g. {missing[:3]}; pass --allow-missing to score the "
                                       f"answered ones and report coverage")
    if not present:
        raise InputError(answers_path, f"no answer matches a question of {gold_path}")
    return present, len(present) / len(gold_ids)


def load_rgb_image(path: str | Path):
    """An image file as RGB, fully read and closed (a bad or missing file raises OSError/ValueError here)."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")
