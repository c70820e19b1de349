"""Errors that tell the user which file, line or field is wrong and what was expected."""

from __future__ import annotations

from pathlib import Path


class CsrEvalError(Exception):
    """Base class for user-facing errors of csr_eval; the CLI prints them and exits non-zero."""


class InputError(CsrEvalError):
    """Bad input data: names the file (and line or field) and what was expected."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = "" if path is None else (f"{path}:{line}: " if line is not None else f"{path}: ")
        super().__init__(where + message)
