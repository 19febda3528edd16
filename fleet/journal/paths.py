"""Where the journal lives: state-directory resolution and the file names inside it.

Precedence: ``--state-dir`` (the CLI passes it in) > ``FLEET_STATE_DIR`` > the platform's user
data directory (``platformdirs``: ``~/.local/share/fleet`` on Linux,
``~/Library/Application Support/fleet`` on macOS, ``%LOCALAPPDATA%\\fleet`` on Windows).

Layout::

    STATE_DIR/
        journal.sqlite3        the one database for every run (+ -wal / -shm while open)
        locks/RUN_ID.lock      per-run writer lock file (fcntl.flock), see ``fleet.journal.lock``

Pure path arithmetic; nothing here touches the file system.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from fleet.errors import JournalError

ENV_VAR = "FLEET_STATE_DIR"
DB_NAME = "journal.sqlite3"
LOCK_DIR = "locks"
# Run ids name lock files, so they must be safe file names on every platform.
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def resolve_state_dir(
    cli_value: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """The state directory: ``--state-dir`` > ``FLEET_STATE_DIR`` > the user data directory.

    Empty values count as unset (``FLEET_STATE_DIR=`` in a shell means "not configured").
    """
    env = os.environ if env is None else env
    if cli_value is not None and str(cli_value):
        return Path(cli_value).expanduser()
    from_env = env.get(ENV_VAR, "")
    if from_env:
        return Path(from_env).expanduser()
    return Path(platformdirs.user_data_dir("fleet", appauthor=False))


def db_path(state_dir: Path) -> Path:
    return state_dir / DB_NAME


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is usable as a file name, else a JournalError saying what is allowed."""
    if not _RUN_ID.match(run_id):
        message = (
            f"run id {run_id!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
        raise JournalError(message)
    return run_id


def lock_path(state_dir: Path, run_id: str) -> Path:
    return state_dir / LOCK_DIR / f"{check_run_id(run_id)}.lock"
