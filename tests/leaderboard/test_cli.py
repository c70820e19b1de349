"""``csr-leaderboard``: bad databases fail before Streamlit starts, naming the path; the server binds to
localhost only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leaderboard.cli import ADDRESS, main, streamlit_command


def test_missing_database_exits_2_naming_it(tmp_path, capsys):
    path = tmp_path / "results" / "csr.db"
    assert main(["--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"results database not found: {path}" in err and "csr-eval" in err
    assert not path.parent.exists()  # nothing created


def test_not_a_database_exits_2(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert main(["--db", str(path)]) == 2
    assert f"{path} is not an SQLite file" in capsys.readouterr().err


def test_bad_port_is_refused(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", str(tmp_path), "--port", "70000"])
    assert exit_info.value.code == 2


def test_server_binds_to_localhost_only():
    command = streamlit_command(8765)
    assert command[command.index("--server.address") + 1] == ADDRESS == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8765"


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "leaderboard.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--db" in out.stdout and "--port" in out.stdout
