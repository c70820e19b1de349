"""Resolve a model name to something loadable.

Order: (1) an iteration of a CSR run directory — ``base``, ``iter1`` … ``iterN`` of ``--run DIR`` or, by
default, of the newest run under ``runs/``; (2) a name in the registry file (``configs/models.yaml``:
baselines with their path or hub id); (3) an existing local path, or a hub id of the form ``org/name``.
Anything else fails with the list of names that do resolve.

A CSR run directory is what ``csr-train`` writes; the contract read here is ``csr_run.json``::

    {"base_model": "<path or hub id>", "iterations": [{"iteration": 1, "model": "iter1/model"}, ...],
     "asked": {"conversation": "vicuna_v1", "pad_to_square": true, "dtype": "bfloat16"}}

where each iteration's ``model`` (relative to the run) is a full model folder, or a PEFT adapter folder
(``adapter_config.json``) applied on top of ``base_model``. ``asked`` (optional) is how the run asked its models
— the search, DPO and its own evaluation — and becomes csr-eval's default for them, so that ``csr-eval --model
iter3`` reuses what the loop stored; a registry entry may say the same (``conversation``, ``pad_to_square``,
``dtype``: LLaVA-1.5's published protocol for the llava-1.5 entries). csr-eval's ``--conversation``,
``--[no-]pad-to-square`` and ``--dtype`` win over both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from csr_eval.errors import InputError
from csr_eval.micro.shipped import MODELS as SHIPPED, resolve_model, shipped_model
from csr_eval.runner import CONVERSATION_FORMATS, DTYPES

RUN_FILE = "csr_run.json"
ITERATION = re.compile(r"^iter(\d+)$")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class ResolvedModel:
    name: str
    path: str  # folder or hub id of the full model (the base when an adapter is applied)
    adapter: str | None = None
    run: str | None = None
    iteration: int | None = None
    base_model: str | None = None
    source: str = "path"  # run | registry | path | hub
    conversation: str | None = None  # how to ask it unless csr-eval is told otherwise (None: chat_template)
    pad_to_square: bool | None = None  # (None: no padding)
    dtype: str | None = None  # (None: auto)


def _asked(entry: dict, where, name: str) -> dict:
    """The ``conversation``, ``pad_to_square`` and ``dtype`` a run or registry entry asks its model(s) with."""
    conversation, pad, dtype = entry.get("conversation"), entry.get("pad_to_square"), entry.get("dtype")
    if conversation is not None and conversation not in CONVERSATION_FORMATS:
        raise InputError(where, f"model {name!r}: conversation must be one of {', '.join(CONVERSATION_FORMATS)}, "
                                f"got {conversation!r}")
    if pad is not None and not isinstance(pad, bool):
        raise InputError(where, f"model {name!r}: pad_to_square must be true or false, got {pad!r}")
    if dtype is not None and dtype not in DTYPES:
        raise InputError(where, f"model {name!r}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return {"conversation": conversation, "pad_to_square": pad, "dtype": dtype}


def latest_run(runs_dir: Path = Path("runs")) -> Path | None:
    runs = [p.parent for p in Path(runs_dir).glob(f"*/{RUN_FILE}")]
    return max(runs, key=lambda p: (p / RUN_FILE).stat().st_mtime) if runs else None


def read_run(run: Path) -> dict:
    path = Path(run) / RUN_FILE
    if not path.is_file():
        raise InputError(run, f"not a CSR run directory ({RUN_FILE} missing)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", exc.lineno) from None
    if "base_model" not in data or not isinstance(data.get("iterations", []), list):
        raise InputError(path, "expected 'base_model' and a list 'iterations'")
    return data


def run_models(run: Path) -> dict[str, ResolvedModel]:
    """A run's models by short name (``base``, ``iter1``, ...). Each is stored as ``<run>/<short name>``, the
    name csr-train gives its own evaluations, so ``csr-eval --model iter3`` adds to that model's row in the
    results store instead of mixing the iter3 of different runs under one name."""
    data = read_run(run)
    base = str(data["base_model"])
    prefix = Path(run).resolve().name
    asked = _asked(data.get("asked") or {}, Path(run) / RUN_FILE, prefix)
    out = {"base": ResolvedModel(f"{prefix}/base", base, run=str(run), iteration=0, base_model=base, source="run",
                                 **asked)}
    for item in data.get("iterations", []):
        k = int(item["iteration"])
        folder = Path(run) / item["model"]
        if (folder / "adapter_config.json").is_file():
            model = ResolvedModel(f"{prefix}/iter{k}", base, adapter=str(folder), run=str(run), iteration=k,
                                  base_model=base, source="run", **asked)
        else:
            model = ResolvedModel(f"{prefix}/iter{k}", str(folder), run=str(run), iteration=k, base_model=base,
                                  source="run", **asked)
        out[f"iter{k}"] = model
    return out


def registry_models(registry_file: Path | None) -> dict[str, ResolvedModel]:
    if registry_file is None or not Path(registry_file).is_file():
        return {}
    try:
        data = yaml.safe_load(Path(registry_file).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(registry_file, f"not valid YAML: {exc}") from None
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise InputError(registry_file, "expected a mapping 'models: {name: {path: ..., adapter: ...}}'")
    out = {}
    for name, entry in models.items():
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry:
            raise InputError(registry_file, f"model {name!r}: expected a 'path' (folder or hub id)")
        out[str(name)] = ResolvedModel(str(name), str(entry["path"]), adapter=entry.get("adapter"),
                                       base_model=entry.get("base_model"), source="registry",
                                       **_asked(entry, registry_file, str(name)))
    return out


class ModelRegistry:
    def __init__(self, run: Path | None = None, registry_file: Path | None = Path("configs/models.yaml"),
                 runs_dir: Path = Path("runs")):
        self.run = Path(run) if run is not None else latest_run(runs_dir)
        if run is not None and not (Path(run) / RUN_FILE).is_file():
            raise InputError(run, f"not a CSR run directory ({RUN_FILE} missing)")
        self.registry_file = registry_file

    def known(self) -> dict[str, ResolvedModel]:
        """Every name that resolves by run or registry (paths and hub ids resolve too, not listed)."""
        out = registry_models(self.registry_file)
        if self.run is not None:
            out.update(run_models(self.run))  # a run's names come first
        return out

    def resolve(self, name: str) -> ResolvedModel:
        known = self.known()
        if name in known:  # shipped micro models are checked only when asked for
            model = known[name]
            model.path = str(resolve_model(model.path))
            if model.base_model is not None:
                model.base_model = str(resolve_model(model.base_model))
            return model
        if name in SHIPPED:
            return ResolvedModel(name, str(shipped_model(name)), source="path")
        if Path(name).exists():
            return ResolvedModel(name, name, source="path")
        if ITERATION.match(name) and self.run is not None:
            raise InputError(self.run, f"{name} not in this run; it has {', '.join(run_models(self.run))}")
        if HUB_ID.match(name):
            return ResolvedModel(name, name, source="hub")
        listing = ", ".join(sorted(known)) or "(none)"
        raise InputError(None, f"unknown model {name!r}: not an iteration of a CSR run, not in "
                               f"{self.registry_file}, not a path and not a hub id (org/name). Known: {listing}")
