"""``csr-leaderboard [--db PATH_OR_URL] [--port N]``: start the dashboard on localhost.

The database is checked before Streamlit starts, so a wrong path fails here, naming it, with exit status 2.
The server binds to 127.0.0.1 only (results can hold unpublished numbers); reach it remotely through an
SSH tunnel, not by opening a port.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from leaderboard.context import DB_ENV, DEFAULT_DB
from leaderboard.queries import LeaderboardError, check_database

ADDRESS = "127.0.0.1"


def streamlit_command(port: int) -> list[str]:
    app = Path(__file__).with_name("app.py")
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", ADDRESS,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--global.developmentMode", "false",
            "--client.toolbarMode", "viewer"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="csr-leaderboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get(DB_ENV, DEFAULT_DB),
                        help=f"results database: an SQLite path or an SQLAlchemy URL (default {DEFAULT_DB})")
    parser.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1 (default 8501)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: expected 1-65535")
    try:
        check_database(args.db)
    except LeaderboardError as exc:
        print(f"csr-leaderboard: {exc}", file=sys.stderr)
        return 2
    print(f"csr-leaderboard: {args.db} on http://{ADDRESS}:{args.port}", flush=True)
    env = {**os.environ, DB_ENV: str(args.db)}
    command = streamlit_command(args.port)
    os.execve(command[0], command, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
