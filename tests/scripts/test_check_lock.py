"""The environment lock's checks, on copies of the real lock files with the real uv and pip."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import check_lock  # noqa: E402

UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
needs_uv = pytest.mark.skipif(UV is None, reason="uv is not installed (it is in the dev extras: make install)")


@pytest.fixture
def project(tmp_path) -> Path:
    """The project's metadata and lock files, copied: what `uv lock --check` reads."""
    for name in ("pyproject.toml", "uv.lock", "requirements.lock", "README.md"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    return tmp_path


@needs_uv
def test_the_committed_lock_is_fresh(project):
    assert check_lock.check_stale(UV, project) == []


@needs_uv
def test_a_dependency_added_without_make_lock_is_caught(project):
    text = (project / "pyproject.toml").read_text()
    assert "dependencies = [\n" in text
    (project / "pyproject.toml").write_text(text.replace("dependencies = [\n", 'dependencies = [\n    "rich>=13",\n', 1))
    assert check_lock.check_stale(UV, project) == [
        "uv.lock does not match pyproject.toml (uv lock --check: exit 1)"]
    script = subprocess.run([sys.executable, str(REPO_ROOT / "scripts/check_lock.py"), "stale", "--uv", UV,
                             "--root", str(project)], capture_output=True, text=True)
    assert script.returncode == 1 and "run `make lock`" in script.stderr


@needs_uv
def test_a_hand_edited_requirements_lock_is_caught(project):
    lock = project / "requirements.lock"
    lock.write_text(lock.read_text().replace("\npandas==", "\npandas==0.0.1 \\\n    --hash=sha256:00\nxpandas==", 1))
    assert check_lock.check_stale(UV, project) == ["requirements.lock is not the export of uv.lock"]


def test_pins_and_markers_are_read():
    pins = {name: (version, marker) for name, version, marker in check_lock.locked_pins(REPO_ROOT / "requirements.lock")}
    assert pins["torch"][0] == "2.14.1" and pins["lmms-eval"][0] == "0.7.3"
    assert pins["filelock"][0].split(".")[0] == "3"  # lmms-eval 0.7.3 breaks on filelock 4 (pyproject.toml)
    assert all(version and "\\" not in version for version, _ in pins.values())


def test_installed_environment_compared_with_a_lock(tmp_path):
    """The comparison itself, with this venv's real `pip freeze`: a lock that drops one installed package,
    changes another's version and adds one that is not installed yields exactly those three differences."""
    have = check_lock.frozen(sys.executable)
    dropped, changed = sorted(n for n in have if n not in check_lock.BOOTSTRAP)[:2]
    lines = [f"{n}=={v}" for n, v in have.items() if n != dropped and n != changed]
    lines += [f"{changed}==0.0.0", "not-installed-pkg==1.0 ; python_version >= '3'",
              "never-here==1.0 ; sys_platform == 'emscripten'"]
    lock = tmp_path / "requirements.lock"
    lock.write_text("\n".join(lines) + "\n")
    assert sorted(check_lock.check_installed(sys.executable, lock)) == sorted([
        f"not in the lock: {dropped}=={have[dropped]}", f"{changed}: installed {have[changed]}, locked 0.0.0",
        "missing: not-installed-pkg==1.0"])
