"""A Temporal namespace of its own per test: tests on other xdist workers share the session's dev
server, and fleet's task queues have fixed names within a namespace."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from fleet.temporal.devserver import TemporalInfo


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
