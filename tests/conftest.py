"""Shared fixtures: the reference data in ../shared/reference (absent in a user's clone)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _reference_dir() -> Path:
    env = os.environ.get("CSR_SHARED_DIR")
    base = Path(env) if env else REPO_ROOT.parent / "shared"
    return base / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = _reference_dir()
    if not (path / "README.md").is_file():
        pytest.skip(f"reference data not found at {path} (the developers' ../shared/reference; set "
                    f"CSR_SHARED_DIR to its parent to run parity tests)")
    return path


@pytest.fixture(scope="session")
def expected(reference_dir):
    def load(benchmark: str, name: str = "EXPECTED.json"):
        return json.loads((reference_dir / benchmark / name).read_text())
    return load
