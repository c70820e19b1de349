"""Typed dataclass configs read from YAML, with ``key.sub=value`` command-line overrides.

Why: every run of the toolkit (pretraining, CSR iterations, evaluation) is described by one config that
is saved next to its outputs, so a result can always be traced back to the settings that produced it.
A wrong key or a value of the wrong type is an error that names the file and the field, never a silent
default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from csr_eval.errors import InputError

T = TypeVar("T")


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, kind: Any, where: str, source: str | Path | None):
    """Convert a YAML / command-line value to the field's declared type, or raise naming the field."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where, source)
            except InputError:
                continue
        raise InputError(source, f"field {where!r}: expected {kind}, got {value!r}")
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise InputError(source, f"field {where!r}: expected a mapping, got {value!r}")
        return _build(kind, value, where + ".", source)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(source, f"field {where!r}: expected a list, got {value!r}")
        args = typing.get_args(kind)
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise InputError(source, f"field {where!r}: expected a mapping, got {value!r}")
        return dict(value)
    if kind is Any:
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise InputError(source, f"field {where!r}: expected true or false, got {value!r}")
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is Path and isinstance(value, (str, Path)):
        return Path(value)
    raise InputError(source, f"field {where!r}: expected {getattr(kind, '__name__', kind)}, got {value!r}")


def _build(cls: type[T], data: dict, prefix: str, source) -> T:
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise InputError(source, f"unknown field {prefix + unknown[0]!r}; expected one of "
                                 f"{', '.join(prefix + k for k in types_)}")
    values = {k: _coerce(v, types_[k], prefix + k, source) for k, v in data.items()}
    return cls(**values)


def to_dict(config) -> dict:
    """The config as plain YAML-able data (paths as strings, tuples as lists)."""
    def plain(v):
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        return v
    return plain(config)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=value`` → (["a", "b"], value parsed as YAML, so ``3`` is an int and ``[1, 2]`` a list)."""
    if "=" not in text:
        raise InputError(None, f"override {text!r}: expected key=value, e.g. llava.lr=5e-4")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else ""


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Defaults of ``cls``, updated by the YAML file at ``path``, then by ``key=value`` overrides."""
    data = to_dict(cls())
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "config file not found")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise InputError(path, f"not valid YAML: {exc}", None if line is None else line + 1) from None
        if not isinstance(loaded, dict):
            raise InputError(path, "expected a mapping of config fields at the top level")
        _merge(data, loaded)
    _build(cls, data, "", path)  # reject unknown keys in the file before overrides can mask them
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            if not isinstance(node.get(k), dict):
                raise InputError(None, f"override {text!r}: {k!r} is not a section of the config")
            node = node[k]
        if keys[-1] not in node:
            raise InputError(None, f"override {text!r}: unknown field {'.'.join(keys)!r}")
        node[keys[-1]] = value
    return _build(cls, data, "", path)


def _merge(into: dict, update: dict) -> None:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def save_config(config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
