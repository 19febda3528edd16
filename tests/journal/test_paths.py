"""State directory resolution and run id checks."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from fleet.errors import JournalError
from fleet.journal.paths import check_run_id, db_path, lock_path, resolve_state_dir


def test_flag_wins_over_environment(tmp_path: Path) -> None:
    env = {"FLEET_STATE_DIR": str(tmp_path / "env")}
    assert resolve_state_dir(tmp_path / "flag", env) == tmp_path / "flag"


def test_environment_wins_over_user_data_dir(tmp_path: Path) -> None:
    assert resolve_state_dir(None, {"FLEET_STATE_DIR": str(tmp_path)}) == tmp_path


def test_default_is_the_platform_user_data_dir() -> None:
    expected = Path(platformdirs.user_data_dir("fleet", appauthor=False))
    assert resolve_state_dir(None, {}) == expected
    assert resolve_state_dir("", {"FLEET_STATE_DIR": ""}) == expected  # empty = unset


def test_home_is_expanded() -> None:
    assert resolve_state_dir("~/state", {}) == Path.home() / "state"


def test_files_inside_the_state_dir(tmp_path: Path) -> None:
    assert db_path(tmp_path) == tmp_path / "journal.sqlite3"
    assert lock_path(tmp_path, "20260101-000000-abc123") == (
        tmp_path / "locks" / "20260101-000000-abc123.lock"
    )


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", ".hidden", "x" * 129, "run id"])
def test_run_ids_that_are_not_safe_file_names_are_refused(bad: str) -> None:
    with pytest.raises(JournalError, match="run id"):
        check_run_id(bad)
