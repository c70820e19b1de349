"""Where the shipped micro models live inside the package.

``csr_eval/micro/weights/micro-llava`` (a ``save_pretrained`` LLaVA folder) and
``csr_eval/micro/weights/micro-clip`` (an open_clip ``local-dir`` folder) are written by
``csr-train pretrain-micro --out csr_eval/micro/weights``; ``micro-qwen`` (a Qwen2.5-VL folder) by the same
command with ``--family qwen2_5_vl``. Tests and ``make demo`` only load them.
"""

from __future__ import annotations

from pathlib import Path

from csr_eval.errors import InputError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODELS = {"micro-llava": "config.json", "micro-clip": "open_clip_config.json", "micro-qwen": "config.json"}


def shipped_model(name: str) -> Path:
    """The folder of a shipped micro model; a clear error if this install lacks it."""
    if name not in MODELS:
        raise InputError(None, f"unknown micro model {name!r}; expected one of {', '.join(MODELS)}")
    path = WEIGHTS_DIR / name
    if not (path / MODELS[name]).is_file():
        family = " --family qwen2_5_vl" if name == "micro-qwen" else ""
        raise InputError(path, f"shipped {name} not found (expected {MODELS[name]}); "
                               f"run `csr-train pretrain-micro --out csr_eval/micro/weights{family}`")
    return path


def resolve_model(name_or_path: str | Path) -> Path | str:
    """``micro-llava`` / ``micro-qwen`` / ``micro-clip`` → the shipped folder; anything else is returned unchanged."""
    return shipped_model(str(name_or_path)) if str(name_or_path) in MODELS else name_or_path
