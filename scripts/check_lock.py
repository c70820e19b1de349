"""Is the environment lock true? Two checks, each failing with a message that says what to do.

``stale`` (what ``make lock-check`` and CI run first): ``pyproject.toml`` and ``uv.lock`` agree (uv's own
``uv lock --check``, offline: it compares the requirements recorded in the lock with pyproject's, no index
is asked), and ``requirements.lock`` is exactly what ``uv export`` makes of ``uv.lock`` (pip installs from
that file, so a hand edit or a forgotten export would otherwise go unnoticed).

``installed``: the packages in a virtual environment (``pip freeze --all``) are exactly the lock's entries
whose environment markers hold there — no package missing, none extra, no version different. ``pip``
itself is the venv's bootstrap, not a dependency, and the project's own editable install is skipped.

    python scripts/check_lock.py stale [--uv PATH]
    python scripts/check_lock.py installed [--python VENV/bin/python]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
EXPORT = ["export", "--quiet", "--format", "requirements-txt", "--frozen", "--no-emit-project", "--extra", "dev"]
FIX = "run `make lock` and commit uv.lock and requirements.lock with the pyproject.toml change"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
BOOTSTRAP = {"pip"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_pins(lock: Path) -> list[tuple[str, str, str | None]]:
    """(name, version, marker) for every pinned line of a pip requirements lock."""
    pins = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            pins.append((normalise(match[1]), match[2], match[3]))
    if not pins:
        raise SystemExit(f"{lock}: no pinned requirements found; {FIX}")
    return pins


def check_stale(uv: str, root: Path = ROOT) -> list[str]:
    problems = []
    check = subprocess.run([uv, "lock", "--check", "--offline", "--directory", str(root)], capture_output=True,
                           text=True)
    if check.returncode != 0:
        problems.append(f"uv.lock does not match pyproject.toml (uv lock --check: exit {check.returncode})")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "requirements.lock"
        export = subprocess.run([uv, *EXPORT, "--offline", "--directory", str(root), "-o", str(fresh)],
                                capture_output=True, text=True)
        if export.returncode != 0:
            problems.append(f"uv export failed: {export.stderr.strip().splitlines()[-1:]}")
        elif _body(fresh) != _body(root / "requirements.lock"):
            problems.append("requirements.lock is not the export of uv.lock")
    return problems


def _body(path: Path) -> list[str]:
    """The file without uv's header comment (it names the output path, which differs in a temp dir)."""
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]


def frozen(python: str) -> dict[str, str]:
    out = subprocess.run([python, "-m", "pip", "freeze", "--all", "--exclude-editable"], capture_output=True,
                         text=True, check=True).stdout
    packages = {}
    for line in out.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            packages[normalise(name)] = version
    return packages


def expected_here(python: str, lock: Path) -> dict[str, str]:
    """The lock's pins whose markers hold for ``python`` (evaluated by that interpreter's ``packaging``)."""
    pins = locked_pins(lock)
    code = ("import json, sys\nfrom packaging.markers import Marker\n"
            "print(json.dumps([m is None or Marker(m).evaluate() for m in json.loads(sys.stdin.read())]))")
    result = subprocess.run([python, "-c", code], input=json.dumps([m for _, _, m in pins]), capture_output=True,
                            text=True, check=True)
    holds = json.loads(result.stdout)
    return {name: version for (name, version, _), ok in zip(pins, holds) if ok}


def check_installed(python: str, lock: Path = LOCK) -> list[str]:
    want, have = expected_here(python, lock), frozen(python)
    problems = []
    for name in sorted(set(want) | set(have)):
        if name in BOOTSTRAP:
            continue
        if name not in have:
            problems.append(f"missing: {name}=={want[name]}")
        elif name not in want:
            problems.append(f"not in the lock: {name}=={have[name]}")
        elif want[name] != have[name]:
            problems.append(f"{name}: installed {have[name]}, locked {want[name]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("check", choices=("stale", "installed"))
    parser.add_argument("--uv", default="uv", help="the uv executable (stale)")
    parser.add_argument("--python", default=sys.executable, help="the venv's interpreter (installed)")
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder (stale)")
    args = parser.parse_args(argv)
    if args.check == "stale":
        problems = check_stale(args.uv, args.root)
        for p in problems:
            print(f"lock check: {p}", file=sys.stderr)
        if problems:
            print(f"lock check: the lock is stale; {FIX}", file=sys.stderr)
            return 1
        print("lock check: uv.lock and requirements.lock match pyproject.toml")
        return 0
    problems = check_installed(args.python, args.lock)
    for p in problems:
        print(f"environment check: {p}", file=sys.stderr)
    if problems:
        print(f"environment check: {len(problems)} difference(s) between {args.python}'s packages and "
              f"{args.lock.name}; reinstall with `make clean install`", file=sys.stderr)
        return 1
    print(f"environment check: the {len(expected_here(args.python, args.lock))} packages of "
          f"{args.lock.name} that apply here are exactly what is installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
