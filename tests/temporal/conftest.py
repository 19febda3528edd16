"""A Temporal namespace of its own per test: tests on other xdist workers share the session's dev
server, and fleet's task queues have fixed names within a namespace.

Without the optional extra ``fleet[temporal]`` the test modules here (they import temporalio) are
not collected, and ``test_extra.py`` is skipped saying what to install: the only skip there is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet.temporal.devserver import TemporalInfo, extra_missing


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Without the extra, leave out the modules that import temporalio (all but test_extra)."""
    name = collection_path.name
    if name.startswith("test_") and name != "test_extra.py" and extra_missing() is not None:
        return True
    return None


@dataclass(frozen=True)
class Space:
    target: str
    namespace: str


@pytest.fixture
def space(temporal_server: TemporalInfo) -> Space:
    from fleet.temporal.devserver import register_namespace

    name = f"t-{uuid.uuid4().hex[:12]}"
    register_namespace(temporal_server.target, name)
    return Space(temporal_server.target, name)
